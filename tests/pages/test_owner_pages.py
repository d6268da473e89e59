"""The product owner's pages do what an owner needs without the operator's shell: make and edit an offer
and its commission, pause it, rotate its key, decide applications, read and download its conversions,
make test conversions, and see each affiliate's numbers. The operator may do the same on any offer."""

import csv
import io
import re
from decimal import Decimal

import pytest

from affnet.core.deliveries import setting_versions
from affnet.core.events import conversions
from affnet.core.network import accounts
from affnet.core.storage.models import AuditEntry, CommissionRule, Delivery, Event, LedgerEntry, Offer, Participation
from affnet.testing import click, click_id_of, ingest, sale_body
from tests import sample_plugin

from .conftest import csrf_of, log_in, post_form

FALLBACK = "https://network.example/sorry"
NEW_OFFER = {
    "name": "Nocturna",
    "description": "Sleep sounds",
    "landing_url": "https://nocturna.example/start",
    "currency": "eur",
    "cookie_days": "30",
    "hold_days": "14",
    "is_public": "y",
    "approval": "auto",
    "sale_kind": "percent",
    "sale_amount": "25",
    "rebill_kind": "percent",
    "rebill_amount": "10%",
    "rebill_months": "12",
    "trial_kind": "",
    "trial_amount": "",
    "lead_kind": "fixed",
    "lead_amount": "1,50",
}
SUSURRA = {  # the network fixture's offer as its edit form shows it
    "name": "Susurra",
    "description": "",
    "landing_url": "https://susurra.example/start?lang=en",
    "currency": "USD",
    "cookie_days": "60",
    "hold_days": "7",
    "is_public": "y",
    "approval": "manual",
    "sale_kind": "percent",
    "sale_amount": "30",
    "rebill_kind": "percent",
    "rebill_amount": "20",
    "rebill_months": "",
    "trial_kind": "fixed",
    "trial_amount": "2",
    "lead_kind": "fixed",
    "lead_amount": "0.5",
}


@pytest.fixture
def affnet_config():
    return {"tracking.fallback_url": FALLBACK}


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


@pytest.fixture
def owner(browser, people):
    log_in(browser, "owner@example.com")
    return people["advertiser"]


def _key_on(page: str) -> str:
    return re.search(r'id="offer-key" readonly value="([^"]+)"', page).group(1)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _audited(action: str, actor) -> list[AuditEntry]:
    return list(AuditEntry.select().where((AuditEntry.action == action) & (AuditEntry.actor == actor.id)))


def _sell(client, network, payment="pi_1", amount=29.0, **extra):
    click_id = click_id_of(click(client, network.ref))
    return ingest(client, network, "conversion", sale_body(click_id, payment=payment, amount=amount, **extra))


# ---- offers ----------------------------------------------------------------------------------------------------


def test_an_owner_makes_an_offer_with_rules_and_sees_its_key_once(browser, owner, affnet_network):
    response = post_form(browser, "/owner/offers/new", NEW_OFFER)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    key = _key_on(_text(response))
    assert "copy it now: it is not shown again" in _text(response).lower()
    assert key not in response.headers.get("Set-Cookie", ""), "never through the session"
    offer = Offer.get(Offer.slug == "nocturna")
    assert (offer.advertiser_id, offer.currency, offer.cookie_days, offer.hold_days) == (owner.id, "EUR", 30, 14)
    assert (offer.approval, offer.is_public, offer.description) == ("auto", True, "Sleep sounds")
    rules = {r.event: accounts.rule_text(r) for r in CommissionRule.select().where(CommissionRule.offer == offer.id)}
    assert rules == {"sale": "sale=25%", "rebill": "rebill=10%:12", "lead": "lead=1.50"}
    assert accounts.offer_by_key(key).id == offer.id, "the key shown is the offer's key"
    for path in ("/owner/offers", "/owner/offers/nocturna", "/owner/offers/nocturna/conversions", "/account"):
        assert key not in _text(browser.get(path)), path
    assert _audited("offer.create", owner) and len(_audited("commission.set", owner)) == 3


def test_the_offer_list_shows_each_offer_with_its_status_and_last_30_days(browser, owner, affnet_network):
    _sell(browser, affnet_network)
    accounts.create_offer(accounts.create_user("owner2@example.com", "advertiser")[0], "Elsewhere", "https://e.x/")
    page = _text(browser.get("/owner/offers"))
    row = re.search(r"Susurra</a></th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row)[:3] == ["live", "1", "1"], "status, clicks, conversions"
    assert "Elsewhere" not in page, "another owner's offer"


def test_a_wrong_rule_is_refused_with_its_reason_and_nothing_is_made(browser, owner, affnet_network):
    response = post_form(browser, "/owner/offers/new", {**NEW_OFFER, "sale_amount": "150"})
    assert response.status_code == 200 and "A percentage cannot be more than 100." in _text(response)
    response = post_form(browser, "/owner/offers/new", {**NEW_OFFER, "landing_url": "javascript:alert(1)"})
    assert "Write a whole address" in _text(response)
    assert not Offer.select().where(Offer.slug == "nocturna").exists()
    assert not AuditEntry.select().where(AuditEntry.action == "offer.create", AuditEntry.actor == owner.id).exists()


def test_the_operator_makes_an_offer_for_a_product_owner(browser, people, affnet_network):
    log_in(browser, "root@example.com")
    page = _text(browser.get("/owner/offers/new"))
    assert "owner@example.com" in page and 'name="owner"' in page
    response = post_form(browser, "/owner/offers/new", {**NEW_OFFER, "owner": str(people["advertiser"].id)})
    assert response.status_code == 201
    assert Offer.get(Offer.slug == "nocturna").advertiser_id == people["advertiser"].id
    assert _audited("offer.create", people["admin"])


def test_an_owners_create_form_has_no_owner_to_pick(browser, owner, people):
    assert 'name="owner"' not in _text(browser.get("/owner/offers/new"))
    post_form(browser, "/owner/offers/new", {**NEW_OFFER, "owner": str(people["admin"].id)})
    assert Offer.get(Offer.slug == "nocturna").advertiser_id == owner.id


def test_the_operator_can_open_every_page_of_any_offer(browser, people, affnet_network):
    log_in(browser, "root@example.com")
    for path in ("", "/applications", "/conversions", "/conversions.csv", "/affiliates"):
        assert browser.get(f"/owner/offers/susurra{path}").status_code == 200, path
    assert "owner@example.com" in _text(browser.get("/owner/offers"))


def test_a_change_of_commission_applies_only_to_events_recorded_after_it(browser, owner, affnet_network):
    before = _sell(browser, affnet_network, payment="pi_before").get_json()
    page = _text(browser.get("/owner/offers/susurra"))
    assert "A change of commission applies to events recorded after it; earlier ones keep what they earned." in page
    response = post_form(browser, "/owner/offers/susurra", {**SUSURRA, "sale_kind": "fixed", "sale_amount": "5"})
    assert response.status_code == 302
    after = _sell(browser, affnet_network, payment="pi_after").get_json()
    assert (before["payout"], after["payout"]) == ("8.70", "5.00")
    assert Event.get(Event.txid == before["txid"]).payout == Decimal("8.70")
    assert [e.changes for e in _audited("commission.set", owner)] == [
        {"sale": {"old": "sale=30%", "new": "sale=5.00"}}
    ], "only the rule that changed"


def test_an_owner_edits_every_field_of_an_offer(browser, owner, affnet_network):
    changed = {
        **SUSURRA,
        "name": "Susurra Pro",
        "description": "Whispers",
        "landing_url": "https://susurra.example/pro",
        "currency": "EUR",
        "cookie_days": "45",
        "hold_days": "10",
        "is_public": "",
        "approval": "auto",
        "lead_kind": "",
        "rebill_months": "6",
    }
    del changed["is_public"]  # an unticked box is not sent
    post_form(browser, "/owner/offers/susurra", changed)
    offer = Offer.get(Offer.slug == "susurra")
    assert (offer.name, offer.description, offer.landing_url, offer.currency) == (
        "Susurra Pro",
        "Whispers",
        "https://susurra.example/pro",
        "EUR",
    )
    assert (offer.cookie_days, offer.hold_days, offer.is_public, offer.approval) == (45, 10, False, "auto")
    rules = {r.event: accounts.rule_text(r) for r in CommissionRule.select().where(CommissionRule.offer == offer.id)}
    assert rules == {"sale": "sale=30%", "rebill": "rebill=20%:6", "trial": "trial=2.00"}
    assert _audited("offer.edit", owner) and _audited("commission.remove", owner)


def test_a_new_hold_applies_to_events_recorded_after_it(browser, owner, affnet_network):
    first = _sell(browser, affnet_network, payment="pi_1").get_json()
    post_form(browser, "/owner/offers/susurra", {**SUSURRA, "hold_days": "30"})
    second = _sell(browser, affnet_network, payment="pi_2").get_json()
    held = {
        entry.event.txid: (entry.available_at - entry.event.occurred_at).days
        for entry in LedgerEntry.select().join(Event)
    }
    assert held == {first["txid"]: 7, second["txid"]: 30}


def test_the_currency_cannot_change_once_the_offer_has_events(browser, owner, affnet_network):
    assert 'name="currency" readonly' not in _text(browser.get("/owner/offers/susurra"))
    _sell(browser, affnet_network)
    page = _text(browser.get("/owner/offers/susurra"))
    assert re.search(r'id="currency" name="currency" readonly', page)
    response = post_form(browser, "/owner/offers/susurra", {**SUSURRA, "currency": "EUR", "name": "Renamed"})
    assert response.status_code == 200 and "the currency cannot change" in _text(response)
    offer = Offer.get(Offer.slug == "susurra")
    assert (offer.currency, offer.name) == ("USD", "Susurra"), "nothing of a refused edit is saved"


def test_a_test_conversion_does_not_fix_the_currency(browser, owner, affnet_network):
    _sell(browser, affnet_network, test=True)
    assert 'name="currency" readonly' not in _text(browser.get("/owner/offers/susurra"))
    post_form(browser, "/owner/offers/susurra", {**SUSURRA, "currency": "EUR"})
    assert Offer.get(Offer.slug == "susurra").currency == "EUR"


def test_pausing_sends_the_offers_links_to_the_fallback_and_resuming_restores_them(browser, owner, affnet_network):
    assert click(browser, affnet_network.ref).headers["Location"].startswith("https://susurra.example/start")
    assert post_form(browser, "/owner/offers/susurra/pause", {}, "/owner/offers/susurra").status_code == 302
    assert "Paused" in _text(browser.get("/owner/offers/susurra"))
    assert click(browser, affnet_network.ref).headers["Location"] == FALLBACK
    post_form(browser, "/owner/offers/susurra/resume", {}, "/owner/offers/susurra")
    assert click(browser, affnet_network.ref).headers["Location"].startswith("https://susurra.example/start")
    assert [e.changes for e in _audited("offer.edit", owner)] == [
        {"is_active": {"old": True, "new": False}},
        {"is_active": {"old": False, "new": True}},
    ]


def test_the_offer_page_links_to_each_integration_a_plugin_offers(browser, owner, affnet_network, monkeypatch):
    from affnet.web.pages import integrations

    assert "/integrations/" not in _text(browser.get("/owner/offers/susurra"))
    monkeypatch.setattr(integrations, "available", lambda offer: [("stripe", "Stripe")])
    page = _text(browser.get("/owner/offers/susurra"))
    assert '<a href="/owner/offers/susurra/integrations/stripe">Stripe</a>' in page


# ---- the key ---------------------------------------------------------------------------------------------------


def test_a_new_key_stops_the_old_one_at_once_and_is_shown_once(browser, owner, affnet_network):
    old = affnet_network.offer_key
    response = post_form(browser, "/owner/offers/susurra/key", {}, "/owner/offers/susurra")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "The old key stopped working at once" in _text(response)
    new = _key_on(_text(response))
    assert ingest(browser, affnet_network, "conversion", sale_body(payment="pi_old"), key=old).status_code == 401
    assert ingest(browser, affnet_network, "conversion", sale_body(payment="pi_new"), key=new).status_code == 201
    page = _text(browser.get("/owner/offers/susurra"))
    assert new not in page and new[-4:] in page, "only its hint"
    assert _audited("offer.key_rotate", owner)


def test_the_offer_page_shows_when_the_key_was_last_used(browser, owner, affnet_network, affnet_clock):
    assert "not since it was made" in _text(browser.get("/owner/offers/susurra"))
    ingest(browser, affnet_network, "conversion", sale_body(payment="pi_1"))
    assert f"{affnet_clock.now:%Y-%m-%d %H:%M} UTC" in _text(browser.get("/owner/offers/susurra"))


# ---- applications ----------------------------------------------------------------------------------------------


@pytest.fixture
def applicant(affnet_network):
    user, _ = accounts.create_user("new@example.com", "affiliate", password="a-good-password-42")
    return accounts.apply(user, affnet_network.offer, note="I run TikTok traffic")


def _decide(browser, participation, status, note=""):
    path = f"/owner/offers/susurra/applications/{participation.id}"
    return post_form(browser, path, {"status": status, "note": note}, "/owner/offers/susurra/applications")


def test_applications_list_pending_ones_first_with_the_affiliates_note(browser, owner, applicant):
    page = _text(browser.get("/owner/offers/susurra/applications"))
    assert page.index("new@example.com") < page.index("aff@example.com")
    assert "I run TikTok traffic" in page


def test_an_owner_rejects_with_a_note_and_the_affiliate_sees_the_decision_and_the_note(browser, owner, applicant):
    assert _decide(browser, applicant, "rejected", "Not our audience, sorry").status_code == 302
    assert Participation.get_by_id(applicant.id).status == "rejected"
    [entry] = _audited("participation.status", owner)
    assert entry.changes["status"] == {"old": "pending", "new": "rejected"}
    browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")})
    log_in(browser, "new@example.com")
    mine = _text(browser.get("/offers"))
    assert "rejected" in mine and "Not our audience, sorry" in mine
    assert "Not our audience, sorry" in _text(browser.get("/marketplace/susurra"))


def test_the_affiliates_own_note_is_never_shown_as_the_owners(browser, owner, applicant, affnet_network):
    """The application's note and the decision's note are two things: an offer that approves at once
    shows the affiliate no "note from the product owner", and a decision keeps the affiliate's note."""
    accounts.edit_offer(affnet_network.offer, approval="auto")
    auto_user, _ = accounts.create_user("auto@example.com", "affiliate", password="a-good-password-42")
    accounts.apply(auto_user, affnet_network.offer, note="my own words")
    _decide(browser, applicant, "approved", "Welcome aboard")
    assert "I run TikTok traffic" in _text(browser.get("/owner/offers/susurra/applications")), (
        "still the owner's to read"
    )
    browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")})
    log_in(browser, "auto@example.com")
    assert "Note from the product owner" not in _text(browser.get("/offers"))


def test_an_owner_approves_pauses_and_resumes_an_affiliate(browser, owner, applicant):
    _decide(browser, applicant, "approved", "Welcome")
    assert click(browser, applicant.ref_code).headers["Location"].startswith("https://susurra.example/")
    _decide(browser, applicant, "paused", "Paused while we check the traffic")
    assert click(browser, applicant.ref_code).headers["Location"] == FALLBACK
    _decide(browser, applicant, "approved")
    assert Participation.get_by_id(applicant.id).status == "approved"
    assert len(_audited("participation.status", owner)) == 3


def test_a_decision_that_is_not_one_is_refused(browser, owner, applicant):
    assert _decide(browser, applicant, "pending").status_code == 400
    assert Participation.get_by_id(applicant.id).status == "pending"


def test_an_application_to_another_offer_is_not_found_on_this_one(browser, owner, people):
    other_owner, _ = accounts.create_user("owner2@example.com", "advertiser")
    elsewhere, _ = accounts.create_offer(other_owner, "Elsewhere", "https://e.x/")
    theirs = accounts.apply(people["other"], elsewhere)
    assert _decide(browser, theirs, "approved").status_code == 404
    assert Participation.get_by_id(theirs.id).status == "pending"


# ---- conversions -----------------------------------------------------------------------------------------------


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


def test_the_conversions_page_lists_a_refund_linked_to_its_sale_and_a_waiting_one(browser, owner, affnet_network):
    sale = _sell(browser, affnet_network, payment="pi_1").get_json()
    refund = ingest(browser, affnet_network, "refund", {"external_payment_id": "pi_1"}).get_json()
    ingest(browser, affnet_network, "refund", {"external_payment_id": "pi_unseen"})
    rows = _rows(_text(browser.get("/owner/offers/susurra/conversions")))
    assert len(rows) == 3
    waiting, reversal, paid = rows  # newest first
    assert "pi_unseen" in waiting and "waiting for its payment" in waiting
    assert refund["txid"] in reversal and f"reverses <code>{sale['txid']}</code>" in reversal
    assert "-8.70 USD" in reversal and "aff@example.com" in reversal
    assert "29.00 USD" in paid and "8.70 USD" in paid
    linked = _rows(_text(browser.get("/owner/offers/susurra/conversions?payment=pi_1")))
    assert [refund["txid"] in row for row in linked] == [True, False], "the payment and what reverses it, only"
    assert "pi_unseen" not in "".join(linked)


def test_the_conversions_filters_pick_kind_affiliate_attribution_dates_and_tests(browser, owner, affnet_network):
    sale = _sell(browser, affnet_network, payment="pi_1").get_json()
    lead = ingest(browser, affnet_network, "conversion", {"event": "lead", "user_ref": "cus_x"}).get_json()
    test = _sell(browser, affnet_network, payment="pi_t", test=True).get_json()
    base = "/owner/offers/susurra/conversions?"

    def shown(query):
        page = _text(browser.get(base + query))
        return {txid for txid in (sale["txid"], lead["txid"], test["txid"]) if txid in page}

    assert shown("") == {sale["txid"], lead["txid"], test["txid"]}
    assert shown("kind=lead") == {lead["txid"]}
    assert shown("attributed=no") == {lead["txid"]}
    assert shown(f"affiliate={affnet_network.affiliate.id}") == {sale["txid"], test["txid"]}
    assert shown("tests=hidden") == {sale["txid"], lead["txid"]}
    assert shown("tests=only") == {test["txid"]}
    assert shown("from=2000-01-01&to=2000-01-31") == set()
    assert "must be a date" in _text(browser.get(base + "from=yesterday"))
    for odd in (
        "affiliate=²",
        "affiliate=99999999999999999999999",
        "kind=nope",
        "tests=maybe",
        "after=%FF",
        "payment=%00",
    ):
        assert browser.get(base + odd).status_code == 200, odd


def test_the_conversions_page_goes_back_a_page_at_a_time(browser, owner, affnet_network, monkeypatch):
    monkeypatch.setattr(conversions, "PAGE_SIZE", 2)
    txids = [_sell(browser, affnet_network, payment=f"pi_{n}").get_json()["txid"] for n in range(3)]
    first = _text(browser.get("/owner/offers/susurra/conversions"))
    assert len(_rows(first)) == 2
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = _text(browser.get(older))
    assert len(_rows(second)) == 1 and 'rel="next"' not in second
    assert {t for t in txids if t in first + second} == set(txids)


def test_the_csv_has_every_filtered_row_with_exact_amounts(browser, owner, affnet_network, monkeypatch):
    monkeypatch.setattr(conversions, "PAGE_SIZE", 1)  # the CSV is not cut to a page
    _sell(browser, affnet_network, payment="pi_1", amount="19.9999")
    ingest(browser, affnet_network, "refund", {"external_payment_id": "pi_1", "amount": "10.00"})
    _sell(browser, affnet_network, payment="pi_2", amount="10")
    ingest(browser, affnet_network, "conversion", {"event": "lead", "user_ref": "cus_1"})
    response = browser.get("/owner/offers/susurra/conversions.csv?kind=sale")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(_text(response))))
    assert [(r["external_payment_id"], r["gross_amount"], r["commission"]) for r in rows] == [
        ("pi_2", "10.00", "3.00"),
        ("pi_1", "19.9999", "6.00"),
    ]
    every = list(csv.DictReader(io.StringIO(_text(browser.get("/owner/offers/susurra/conversions.csv")))))
    assert len(every) == 4
    refund = next(r for r in every if r["event"] == "refund")
    assert (refund["commission"], refund["reverses"]) == ("-3.00", rows[1]["txid"])


def test_a_test_conversion_from_the_page_is_priced_marked_and_touches_nothing_real(browser, owner, affnet_network):
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, {"url": "https://receiver.example/hit"})
    data = {"event": "sale", "gross_amount": "29,00", "ref_code": affnet_network.ref, "external_payment_id": "pi_9"}
    response = post_form(browser, "/owner/offers/susurra/conversions/test", data, "/owner/offers/susurra/conversions")
    assert response.status_code == 302
    event = Event.get()
    assert (event.is_test, event.payout, event.affiliate_id) == (True, Decimal("8.70"), affnet_network.affiliate.id)
    page = _text(browser.get(response.headers["Location"]))
    assert "commission 8.70 USD" in page and event.txid in page
    assert LedgerEntry.select().count() == 0 and Delivery.select().count() == 0
    assert _audited("conversion.test", owner)
    real = _sell(browser, affnet_network, payment="pi_9")
    assert real.status_code == 201 and real.get_json()["duplicate"] is False
    browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")})
    log_in(browser, "aff@example.com")
    stats = _text(browser.get("/stats"))
    assert re.search(r"Total</th><td>1</td><td>1</td>\s*<td>0</td><td>1</td>", stats), "one click, one sale: the real"


def test_a_test_conversion_the_ingest_checks_refuse_is_not_recorded(browser, owner, affnet_network):
    data = {"event": "sale", "gross_amount": "", "ref_code": "", "external_payment_id": ""}
    response = post_form(browser, "/owner/offers/susurra/conversions/test", data, "/owner/offers/susurra/conversions")
    assert "gross_amount is required" in _text(browser.get(response.headers["Location"]))
    assert Event.select().count() == 0


# ---- affiliates ------------------------------------------------------------------------------------------------


def test_the_affiliates_page_shows_each_affiliates_clicks_conversions_and_commission(
    browser, owner, people, affnet_network
):
    _sell(browser, affnet_network, payment="pi_1")
    _sell(browser, affnet_network, payment="pi_t", test=True)
    click(browser, people["other_participation"].ref_code)
    page = _text(browser.get("/owner/offers/susurra/affiliates"))
    rows = {
        email: re.findall(r"<td>([^<]*)</td>", row)
        for email, row in re.findall(r'<th scope="row">([^<]+)<br>.*?</th>(.*?)</tr>', page, re.S)
    }
    assert rows["aff@example.com"][:5] == ["approved", "2", "0", "1", "0"], "status, clicks, leads, sales, rejected"
    assert "8.70 USD" in page
    assert rows["other@example.com"][:5] == ["approved", "1", "0", "0", "0"]
    assert "aff@example.com" in _text(browser.get("/owner/offers/susurra/affiliates?from=2000-01-01&to=2000-01-02"))
