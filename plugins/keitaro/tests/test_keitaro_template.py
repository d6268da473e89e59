"""The postback template: SPEC section 4's macros, the presets, validation on save."""

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

import affnet_keitaro.plugin as keitaro
from affnet.core.deliveries.setting_versions import SettingsError, validate
from affnet.plugins import ClickInfo, EventInfo, OfferInfo
from affnet_keitaro.presets import PRESETS, PRESETS_BY_NAME
from affnet_keitaro.template import MACROS, expand, postback_url, unknown_macros

OFFER = OfferInfo(1, "susurra", "Susurra", "https://susurra.example/", "USD")


def event(kind="sale", status="sale", payout="8.70", click=True, is_test=False, clickid="kt-987", subs=None):
    info = (
        ClickInfo(
            "aff_click_1",
            datetime(2026, 6, 1),
            clickid,
            None,
            None,
            None,
            subs if subs is not None else {"sub1": "ad 7&x", "sub3": "três"},
        )
        if click
        else None
    )
    return EventInfo(
        txid="tx_abc",
        kind=kind,
        status=status,
        occurred_at=datetime(2026, 6, 2),
        offer=OFFER,
        attributed=True,
        affiliate_id=1,
        participation_id=1,
        ref_code="r1",
        payout=Decimal(payout),
        payout_currency="USD",
        gross_amount=Decimal("29"),
        currency="USD",
        user_ref="cus_1",
        external_payment_id="pi_1",
        is_first_payment=True,
        click=info,
        is_test=is_test,
    )


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def test_every_macro_of_the_spec_is_replaced():
    template = "https://t.example/p?" + "&".join(f"{name}={{{name}}}" for name in MACROS)
    got = query(expand(template, event()))
    assert got == {
        "clickid": "kt-987",
        "subid": "kt-987",
        "sub1": "ad 7&x",
        "sub2": "",
        "sub3": "três",
        **{f"sub{n}": "" for n in range(4, 11)},
        "status": "sale",
        "event": "sale",
        "payout": "8.70",
        "currency": "USD",
        "txid": "tx_abc",
    }


def test_values_are_url_encoded():
    url = expand("https://t.example/p?s={sub1}&x={sub3}", event())
    assert url == "https://t.example/p?s=ad%207%26x&x=tr%C3%AAs"


def test_unknown_macros_become_empty():
    assert (
        expand("https://t.example/p?a={nope}&b={CLICKID}&c={}&d={clickid}", event())
        == "https://t.example/p?a=&b=&c=&d=kt-987"
    )


def test_clickid_falls_back_to_s1_then_to_affnets_click_id():
    assert query(expand("https://t.example/?c={clickid}", event(clickid=None)))["c"] == "ad 7&x"
    assert query(expand("https://t.example/?c={clickid}", event(clickid=None, subs={})))["c"] == "aff_click_1"


def test_clickid_and_subs_are_empty_for_an_event_without_a_click():
    assert query(expand("https://t.example/?c={clickid}&s={subid}&x={sub1}&t={txid}", event(click=False))) == {
        "c": "",
        "s": "",
        "x": "",
        "t": "tx_abc",
    }


def test_a_reversal_has_a_negative_payout():
    assert (
        query(expand("https://t.example/?p={payout}&s={status}", event("refund", "rejected", "-8.7")))["p"] == "-8.70"
    )


def test_a_test_send_is_marked_with_test_1():
    settings = {"postback": {"url": "https://t.example/p?s={status}"}}
    (delivery,) = keitaro.deliveries_for_event(event=event(is_test=True), settings=settings)
    assert query(postback_url(delivery.payload, settings["postback"])) == {"s": "sale", "test": "1"}
    plain = {"postback": {"url": "https://t.example/p"}}
    (delivery,) = keitaro.deliveries_for_event(event=event(), settings=plain)
    assert postback_url(delivery.payload, plain["postback"]) == "https://t.example/p"


def test_the_stored_payload_holds_the_macros_not_the_url_and_its_credentials():
    url = "https://kt:pa55-word-0042@t.example/p?api_key=k3y-0042&s={status}&c={clickid}"
    (delivery,) = keitaro.deliveries_for_event(event=event(), settings={"postback": {"url": url}})
    assert "pa55-word-0042" not in str(delivery.payload) and "k3y-0042" not in str(delivery.payload)
    sent = postback_url(delivery.payload, {"url": url})
    assert sent.startswith("https://kt:pa55-word-0042@t.example/p?") and query(sent)["api_key"] == "k3y-0042"
    assert query(sent)["s"] == "sale"


def test_a_payload_stored_with_its_url_is_sent_to_that_url():
    assert postback_url({"url": "https://t.example/old?s=sale"}, {"url": "https://t.example/new"}) == (
        "https://t.example/old?s=sale"
    )


def test_no_postback_without_a_url_in_force():
    assert keitaro.deliveries_for_event(event=event(), settings={}) == []
    assert keitaro.deliveries_for_event(event=event(), settings={"postback": {"url": ""}}) == []


def test_the_keitaro_preset_is_the_spec_template():
    assert (
        PRESETS_BY_NAME["keitaro"].template.split("/postback")[1]
        == "?subid={clickid}&status={status}&payout={payout}&currency={currency}"
    )
    assert keitaro.POSTBACK.presets["keitaro"] == {"url": PRESETS_BY_NAME["keitaro"].template}


@pytest.mark.parametrize(
    "name, parameters",
    [
        ("keitaro", {"subid": "{clickid}", "status": "{status}", "payout": "{payout}", "currency": "{currency}"}),
        ("binom", {"cnv_id": "{clickid}", "cnv_status": "{status}", "payout": "{payout}"}),
        ("voluum", {"cid": "{clickid}", "payout": "{payout}", "txid": "{txid}"}),
        ("redtrack", {"clickid": "{clickid}", "sum": "{payout}", "type": "{event}"}),
    ],
)
def test_each_preset_uses_its_trackers_own_parameter_names(name, parameters):
    got = dict(pair.split("=", 1) for pair in urlsplit(PRESETS_BY_NAME[name].template).query.split("&"))
    assert parameters.items() <= got.items()


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.name)
def test_every_preset_uses_only_known_macros_and_passes_the_click_id(preset):
    assert unknown_macros(preset.template) == []
    assert "={clickid}" in preset.template
    assert validate(keitaro.POSTBACK, {"url": preset.template}) == [
        f"{urlsplit(preset.template).hostname} is the preset's placeholder: put your tracker's own address in its place"
    ]


def test_saving_warns_about_unknown_macros_and_a_missing_click_id():
    warnings = validate(keitaro.POSTBACK, {"url": "https://kt.mine.net/postback?subid={click_id}&p={payout}"})
    assert any("{click_id}" in warning and "become empty" in warning for warning in warnings)
    assert any("no {clickid} or {subid}" in warning for warning in warnings)
    assert validate(keitaro.POSTBACK, {"url": "https://kt.mine.net/postback?subid={subid}"}) == []


@pytest.mark.parametrize(
    "url, why",
    [
        ("kt.mine.net/postback?subid={clickid}", "absolute http:// or https://"),
        ("ftp://kt.mine.net/postback", "absolute http:// or https://"),
        ("javascript:alert(1)", "absolute http:// or https://"),
        ("", "is required"),
    ],
)
def test_saving_refuses_a_url_that_is_not_absolute_http_with_a_clear_message(url, why):
    with pytest.raises(SettingsError) as error:
        validate(keitaro.POSTBACK, {"url": url})
    assert why in error.value.fields["url"]
