"""`affnet settings` and `affnet deliveries`: affiliates' postback settings
from the command line, with the 24-hour rule, test sends and the delivery log."""

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from affnet.cli import cli
from affnet.commands import register_all
from affnet.core.deliveries.affiliate_settings import describe_versions, with_preset
from affnet.core import clock
from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import LedgerEntry
from affnet.plugins import DeliveryKind, SettingField
from affnet.testing import FakeReceiver, click, click_id_of, ingest, sale_body

register_all(cli)
KEITARO = "/postback?subid={clickid}&status={status}&payout={payout}&currency={currency}"


@pytest.fixture
def affnet_config():
    return {"plugins.enabled": ["keitaro"], "deliveries.allow_private_targets": True, "settings.change_delay_hours": 24}


@pytest.fixture
def tracker():
    """Answers 404 on /missing (an unknown key), 200 elsewhere; ``received``
    lists each request as its path and query parameters."""

    def route(request):
        return (404, {}, "Unknown key") if request["path"] == "/missing" else (200, {}, "Success")

    with FakeReceiver(route=route) as server:
        yield server


def received(tracker) -> list[dict]:
    return [{"path": request["path"], **request["query"]} for request in tracker.requests]


@pytest.fixture
def run(affnet_app, affnet_settings, tmp_path):
    """Run `affnet --config <the test database's config> ...`; returns (exit code, output)."""

    def toml(value):
        return json.dumps(value) if not isinstance(value, bool) else str(value).lower()

    keys = (
        "database_url",
        "instance_path",
        "plugins.enabled",
        "deliveries.allow_private_targets",
        "settings.change_delay_hours",
    )
    sections: dict = {}
    for key in keys:
        section, _, name = key.rpartition(".")
        sections.setdefault(section, []).append(f"{name} = {toml(affnet_settings[key])}")
    text = (
        "\n".join(sections.pop(""))
        + "\n"
        + "\n".join(f"[{section}]\n" + "\n".join(lines) for section, lines in sections.items())
    )
    config = tmp_path / "affnet.toml"
    config.write_text(text + "\n")
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


def run_json(run, *args):
    code, output = run(*args, "--json")
    assert code == 0, output
    return json.loads(output)


def test_set_saves_the_first_version_in_force_at_once(run, affnet_network, affnet_clock, tracker):
    saved = run_json(
        run,
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        "--ref",
        affnet_network.ref,
        f"url={tracker.base}{KEITARO}",
    )
    assert saved["takes_effect_now"] is True and saved["warnings"] == []
    assert saved["values"] == {"url": tracker.base + KEITARO}
    assert saved["effective_at"] == affnet_clock.now.isoformat() + "Z"


def test_a_change_takes_effect_after_the_operators_delay_and_the_old_version_stays_until_then(
    run, affnet_network, affnet_clock, tracker
):
    first = run_json(
        run,
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        "--ref",
        affnet_network.ref,
        f"url={tracker.base}/old?subid={{clickid}}",
    )
    affnet_clock.advance(days=2)
    code, text = run(
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        "--ref",
        affnet_network.ref,
        f"url={tracker.base}/new?subid={{clickid}}",
    )
    assert code == 0, text
    when = (affnet_clock.now + timedelta(hours=24)).isoformat() + "Z"
    assert (
        f"takes effect at {clock.iso(affnet_clock.now + timedelta(hours=24))} (in 24 h); until then version {first['version']} stays in force"
        in text
    )

    shown = run_json(run, "settings", "show", "postback", "--affiliate", "aff@example.com", "--ref", affnet_network.ref)
    assert shown["active"]["version"] == first["version"]
    assert [(row["values"]["url"], row["effective_at"]) for row in shown["pending"]] == [
        (f"{tracker.base}/new?subid={{clickid}}", when)
    ]
    assert [row["version"] for row in shown["history"]] == [first["version"] + 1, first["version"]]


@pytest.mark.parametrize("affnet_config", [{"plugins.enabled": ["keitaro"], "settings.change_delay_hours": 6}])
def test_the_delay_is_the_operator_setting(run, affnet_network, affnet_clock):
    run_json(
        run, "settings", "set", "postback", "--affiliate", "aff@example.com", "url=https://kt.mine.net/a?s={subid}"
    )
    second = run_json(
        run, "settings", "set", "postback", "--affiliate", "aff@example.com", "url=https://kt.mine.net/b?s={subid}"
    )
    assert second["effective_at"] == (affnet_clock.now + timedelta(hours=6)).isoformat() + "Z"


def test_set_prints_warnings_for_unknown_macros(run, affnet_network):
    code, text = run(
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        "url=https://kt.mine.net/postback?subid={clickid}&x={click_id}",
    )
    assert code == 0 and "warning: unknown macros become empty: {click_id}" in text


@pytest.mark.parametrize(
    "url, message",
    [
        ("kt.mine.net/postback", "url must be an absolute http:// or https:// URL"),
        ("ftp://kt.mine.net/postback", "url must be an absolute http:// or https:// URL"),
    ],
)
def test_set_refuses_a_bad_url_with_a_clear_message_and_saves_nothing(run, affnet_network, url, message):
    code, text = run("settings", "set", "postback", "--affiliate", "aff@example.com", f"url={url}")
    assert code != 0 and f"not saved: {message}" in text
    assert setting_versions.history("postback", affnet_network.affiliate.id, None) == []


def test_set_with_a_preset_keeps_the_trackers_address_and_the_presets_parameters(run, affnet_network):
    saved = run_json(
        run,
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        "--preset",
        "binom",
        "url=https://binom.mine.net/click.php",
    )
    assert saved["values"]["url"] == (
        "https://binom.mine.net/click.php?cnv_id={clickid}&payout={payout}&cnv_status={status}&cnv_currency={currency}"
    )
    code, text = run("settings", "set", "postback", "--affiliate", "aff@example.com", "--preset", "nope")
    assert code != 0 and "presets: keitaro, binom, voluum, redtrack, generic" in text


def test_set_refuses_unknown_kinds_fields_affiliates_and_other_affiliates_refs(run, affnet_network):
    other = affnet_network.add_affiliate("other@example.com")
    for args, message in (
        (("settings", "set", "pixel", "--affiliate", "aff@example.com"), "no setting kind 'pixel'"),
        (("settings", "set", "postback", "--affiliate", "aff@example.com", "colour=red"), "'colour' is not a setting"),
        (("settings", "set", "postback", "--affiliate", "nobody@example.com"), "no affiliate with the email"),
        (
            (
                "settings",
                "set",
                "postback",
                "--affiliate",
                "aff@example.com",
                "--ref",
                other.ref_code,
                "url=https://kt.mine.net/p?s={subid}",
            ),
            "has no participation with the refCode",
        ),
    ):
        code, text = run(*args)
        assert code != 0 and message in text, text


def test_test_send_goes_out_at_once_marked_as_a_test_and_touches_no_money(run, affnet_network, tracker):
    result = run_json(
        run,
        "settings",
        "test",
        "postback",
        "--affiliate",
        "aff@example.com",
        "--ref",
        affnet_network.ref,
        f"url={tracker.base}{KEITARO}",
    )
    assert result["status"] == "sent" and result["is_test"] is True
    (request,) = received(tracker)
    assert request == {
        "path": "/postback",
        "subid": "affnet-test",
        "status": "sale",
        "payout": "1.00",
        "currency": "USD",
        "test": "1",
    }
    assert result["log"][0]["status_code"] == 200 and result["log"][0]["excerpt"] == "Success"
    assert LedgerEntry.select().count() == 0
    assert setting_versions.history("postback", affnet_network.affiliate.id, affnet_network.participation.id) == []


def test_test_send_uses_the_pending_version_being_edited(run, affnet_network, affnet_clock, tracker):
    run("settings", "set", "postback", "--affiliate", "aff@example.com", f"url={tracker.base}/old?s={{subid}}")
    run("settings", "set", "postback", "--affiliate", "aff@example.com", f"url={tracker.base}/new?s={{subid}}")
    code, text = run(
        "settings", "test", "postback", "--affiliate", "aff@example.com", "--event", "refund", "--clickid", "kt-42"
    )
    assert code == 0, text
    assert received(tracker) == [{"path": "/new", "s": "kt-42", "test": "1"}]
    assert "sent 200" in text


def test_a_failed_test_send_is_not_retried_and_exits_non_zero(
    run, affnet_network, affnet_worker, affnet_clock, tracker
):
    code, text = run("settings", "test", "postback", "--affiliate", "aff@example.com", f"url={tracker.base}/missing")
    assert code == 1 and "failed 404" in text and "Unknown key" in text
    affnet_clock.advance(days=1)
    affnet_worker.run_once()
    assert len(received(tracker)) == 1


def test_deliveries_list_shows_each_attempt_and_resend_sends_again(
    run, affnet_client, affnet_network, affnet_worker, affnet_clock, tracker
):
    run("settings", "set", "postback", "--affiliate", "aff@example.com", f"url={tracker.base}/missing?token=s3cr3t")
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    txid = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    affnet_worker.run_once()

    (row,) = run_json(run, "deliveries", "list", "--affiliate", "aff@example.com")
    assert (row["status"], row["txid"], row["event"], row["attempts"]) == ("failed", txid, "sale", 1)
    (attempt,) = row["log"]
    assert attempt["url"] == f"{tracker.base}/missing?token=***", "secrets masked"
    assert (attempt["status_code"], attempt["excerpt"], attempt["outcome"]) == (404, "Unknown key", "failed")
    assert attempt["at"] == affnet_clock.now.isoformat() + "Z" and "404" in attempt["error"]
    affnet_network.add_affiliate("other@example.com")
    assert run_json(run, "deliveries", "list", "--affiliate", "other@example.com") == []
    assert run_json(run, "deliveries", "list", "--status", "sent") == []

    code, text = run("deliveries", "resend", str(row["id"]))
    assert code == 0 and "sent again" in text
    affnet_worker.run_once()
    assert len(received(tracker)) == 2
    assert len(run_json(run, "deliveries", "list")[0]["log"]) == 2


def test_show_masks_secret_fields(affnet_app, affnet_network):
    kind = DeliveryKind(
        "pixel", "Pixel", (SettingField("pixel_id", "Pixel ID"), SettingField("token", "Token", secret=True))
    )
    setting_versions.save(kind, affnet_network.affiliate, {"pixel_id": "123", "token": "EAAB-very-secret-9876"})
    shown = describe_versions(kind, affnet_network.affiliate, None)
    assert shown["active"]["values"]["pixel_id"] == "123"
    assert "very-secret" not in json.dumps(shown, default=str)
    assert shown["active"]["values"]["token"].endswith("9876")


def test_with_preset_takes_a_full_url_as_given():
    kind = DeliveryKind(
        "postback",
        "P",
        (SettingField("url", "URL", url=True),),
        presets={"k": {"url": "https://x.example/p?subid={clickid}"}},
    )
    assert with_preset(kind, "k", {"url": "https://mine.net/p?s={subid}"}) == {"url": "https://mine.net/p?s={subid}"}
    assert with_preset(kind, "k", {}) == {"url": "https://x.example/p?subid={clickid}"}


def test_every_command_has_help():
    runner = CliRunner()
    for args in (
        ["settings", "set"],
        ["settings", "show"],
        ["settings", "test"],
        ["deliveries", "list"],
        ["deliveries", "resend"],
    ):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "--json" in result.output, args


def test_an_offer_without_its_own_url_uses_the_affiliate_wide_one(
    run, affnet_client, affnet_network, affnet_worker, tracker
):
    run_json(
        run,
        "settings",
        "set",
        "postback",
        "--affiliate",
        "aff@example.com",
        f"url={tracker.base}/all?subid={{clickid}}",
    )
    shown = run_json(run, "settings", "show", "postback", "--affiliate", "aff@example.com", "--ref", affnet_network.ref)
    assert shown["active"] is None and shown["falls_back_to"]["values"]["url"].startswith(tracker.base + "/all")
    click_id = click_id_of(click(affnet_client, affnet_network.ref, clickid="kt-7"))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    affnet_worker.run_once()
    assert received(tracker) == [{"path": "/all", "subid": "kt-7"}]
