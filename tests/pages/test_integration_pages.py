"""An offer's Stripe page, as its product owner uses it: the webhook URL and the events to select, the
two short integrations and the landing helper filled in with the offer's values, the signing secret set
write-only, and the webhook's last calls with what came of each."""

import html
import json
import re
from pathlib import Path

import pytest
import stripe

import affnet_stripe_ingest.plugin as stripe_plugin
from affnet.core.network import accounts, webhook_calls
from affnet.core.network.offer_secrets import get_offer_secret, set_offer_secret
from affnet.core.storage.models import AuditEntry, OfferSecret, WebhookCall
from affnet.testing import assert_not_stored, click, click_id_of
from affnet.web.pages import integrations

from .conftest import csrf_of, log_in

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "plugins" / "stripe_ingest" / "tests" / "fixtures"
NETWORK = "https://network.example"
PAGE = "/owner/offers/susurra/integrations/stripe"
SECRET = "whsec_pageSetSecretForSusurra0042"
EVENTS = "invoice.payment_succeeded, charge.refunded, charge.dispute.created, customer.subscription.created"


@pytest.fixture
def affnet_plugins():
    return [stripe_plugin]


@pytest.fixture
def affnet_config():
    return {"base_url": NETWORK}


@pytest.fixture
def owner(browser, people):
    log_in(browser, "owner@example.com")
    return browser


def page_text(client, path: str = PAGE) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def code_blocks(page: str) -> dict[str, str]:
    """The text of each <code id=...> of the page, as the copy button copies it."""
    return {
        name: html.unescape(text) for name, text in re.findall(r'<code id="([\w-]+)"[^>]*>(.*?)</code>', page, re.S)
    }


def set_secret(client, value: str):
    return client.post(f"{PAGE}/secret", data={"csrf_token": csrf_of(client, PAGE), "value": value})


def post_signed(client, payload: str, secret: str = SECRET):
    """A Stripe event sent as Stripe sends it, signed by the official library."""
    header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return client.post(
        "/hooks/stripe/susurra",
        data=payload.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def fixture_event(name: str, click_id: str = "") -> str:
    return (FIXTURES / f"{name}.json").read_text().replace("{{click_id}}", click_id)


def last_calls(page: str) -> list[list[str]]:
    table = page[page.index('<table class="webhook-calls">') : page.index("</table>")]
    rows = re.findall(r"<tr>\s*(<td>.*?)</tr>", table, re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_the_owner_sees_the_webhook_url_the_events_and_the_snippets_filled_in_for_the_offer(owner):
    page = page_text(owner)
    assert f'value="{NETWORK}/hooks/stripe/susurra"' in page
    assert f'value="{EVENTS}"' in page
    blocks = code_blocks(page)
    python, node, helper = blocks["snippet-1"], blocks["snippet-2"], blocks["landing-helper"]
    assert 'NETWORK_URL, HEADERS = "https://network.example", {"X-Offer-Key": os.environ["AFFNET_OFFER_KEY"]}' in python
    assert "# the key of susurra" in python
    assert 'const NETWORK_URL = "https://network.example", OFFER_KEY = process.env.AFFNET_OFFER_KEY;' in node
    assert "// the key of susurra" in node
    assert helper == '<script src="https://network.example/static/affnet.js" data-cookie-days="60"></script>'
    assert "https://NETWORK" not in python + node and "<offer>" not in python + node


def test_the_snippets_are_the_tested_example_files_filled_in(owner):
    blocks = code_blocks(page_text(owner))
    for block, name in (("snippet-1", "stripe_webhook.py"), ("snippet-2", "stripe_webhook.js")):
        example = (ROOT / "docs" / "examples" / name).read_text()
        assert blocks[block] == example.replace("https://NETWORK", NETWORK).replace("<offer>", "susurra")


def test_the_offer_page_links_to_its_stripe_page(owner, affnet_app, affnet_network):
    with affnet_app.test_request_context():
        assert integrations.available(affnet_network.offer) == [("stripe", "Stripe")]
    assert f'href="{PAGE}"' in page_text(owner, "/owner/offers/susurra")


def test_a_secret_set_on_the_page_is_stored_encrypted_and_never_shown_again(owner, affnet_network):
    answer = set_secret(owner, SECRET)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(PAGE)
    page = page_text(owner)
    assert SECRET not in page and SECRET[:-4] not in page
    assert re.search(r"Set on \d{4}-\d\d-\d\d \d\d:\d\d UTC, ends in …0042\.", page)
    assert get_offer_secret(affnet_network.offer, "stripe_webhook_secret") == SECRET
    assert_not_stored(SECRET)
    entry = AuditEntry.get(AuditEntry.action == "offer.secret")
    assert entry.changes == {"stripe_webhook_secret": {"changed": True}} and entry.offer_id == affnet_network.offer.id
    assert entry.actor_id == affnet_network.advertiser.id


def test_an_empty_secret_keeps_the_saved_one(owner, affnet_network):
    set_secret(owner, SECRET)
    answer = set_secret(owner, "")
    assert answer.status_code == 302
    assert get_offer_secret(affnet_network.offer, "stripe_webhook_secret") == SECRET
    assert AuditEntry.select().where(AuditEntry.action == "offer.secret").count() == 1
    assert "the saved secret is kept" in page_text(owner)


def test_a_value_that_is_not_a_signing_secret_is_refused_and_nothing_is_saved(owner):
    answer = set_secret(owner, "sk_live_51NotASigningSecret")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "That is not a Stripe signing secret" in page and "sk_live_51NotASigningSecret" not in page
    assert "Not set yet." in page
    assert (
        OfferSecret.select().count() == 0
        and AuditEntry.select().where(AuditEntry.action == "offer.secret").count() == 0
    )


def test_another_owner_finds_no_stripe_page_of_the_offer(browser, people, affnet_network):
    accounts.create_user("owner2@example.com", "advertiser", password="a-good-password-42")
    log_in(browser, "owner2@example.com")
    assert browser.get(PAGE).status_code == 404
    token = csrf_of(browser, "/account")
    assert browser.post(f"{PAGE}/secret", data={"csrf_token": token, "value": SECRET}).status_code == 404
    assert OfferSecret.select().count() == 0


def test_an_integration_no_plugin_offers_is_not_found(owner):
    assert owner.get("/owner/offers/susurra/integrations/paddle").status_code == 404


def test_the_operator_may_set_any_offers_secret(browser, people, affnet_network):
    log_in(browser, "root@example.com")
    assert set_secret(browser, SECRET).status_code == 302
    assert get_offer_secret(affnet_network.offer, "stripe_webhook_secret") == SECRET


def test_a_signed_webhook_call_shows_in_the_last_calls_with_its_result(owner, affnet_client, affnet_network):
    set_secret(owner, SECRET)
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    payload = fixture_event("invoice_payment_succeeded_acacia_subscription_create", click_id)
    sale = post_signed(affnet_client, payload)
    assert sale.status_code == 201
    txid = sale.get_json()["results"][0]["txid"]
    assert post_signed(affnet_client, payload).status_code == 200
    assert post_signed(affnet_client, fixture_event("customer_created")).status_code == 200
    rows = last_calls(page_text(owner))
    assert rows[0][1:] == ["customer.created", "200", "ignored: event type 'customer.created' is not one affnet uses"]
    assert rows[1][1:] == ["invoice.payment_succeeded", "200", f"duplicate of sale {txid}"]
    assert rows[2][1:] == ["invoice.payment_succeeded", "201", f"recorded sale {txid} (attributed)"]
    assert len(rows) == 3


def test_a_refused_signature_shows_as_refused(owner, affnet_client):
    set_secret(owner, SECRET)
    answer = post_signed(affnet_client, fixture_event("charge_dispute_created"), secret="whsec_notTheSavedSecret00")
    assert answer.status_code == 400
    rows = last_calls(page_text(owner))
    assert rows == [[rows[0][0], "–", "400", "refused: the Stripe-Signature header is missing, wrong or too old"]]


def test_a_signed_event_the_network_cannot_use_shows_why(owner, affnet_client):
    set_secret(owner, SECRET)
    event = json.loads(fixture_event("charge_dispute_created"))
    event["data"]["object"]["payment_intent"] = None
    event["data"]["object"]["charge"] = None
    assert post_signed(affnet_client, json.dumps(event)).status_code == 422
    assert last_calls(page_text(owner))[0][1:] == [
        "charge.dispute.created",
        "422",
        "refused: the dispute names no payment; payment_intent is required",
    ]


def test_only_the_newest_50_calls_are_kept_per_offer_and_source(owner, affnet_network):
    offer = affnet_network.offer
    webhook_calls.record_call(offer, "paddle", 200, "transaction.completed", "kept: another source")
    for number in range(55):
        webhook_calls.record_call(offer, "stripe", 400, "", f"call {number}")
    kept = WebhookCall.select().where(WebhookCall.source == "stripe").order_by(WebhookCall.id)
    assert [call.result for call in kept] == [f"call {number}" for number in range(5, 55)]
    assert WebhookCall.select().where(WebhookCall.source == "paddle").count() == 1
    rows = last_calls(page_text(owner))
    assert [row[3] for row in rows] == [f"call {number}" for number in range(54, 34, -1)]


def test_a_call_log_that_fails_never_changes_the_webhooks_answer(owner, affnet_client, affnet_network, monkeypatch):
    set_offer_secret(affnet_network.offer, "stripe_webhook_secret", SECRET)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(WebhookCall, "create", broken)
    answer = post_signed(affnet_client, fixture_event("invoice_payment_succeeded_acacia_subscription_cycle"))
    assert answer.status_code == 201 and answer.get_json()["results"][0]["event"] == "rebill"
    assert WebhookCall.select().count() == 0


def test_a_call_the_network_could_not_record_shows_as_an_error(owner, affnet_client, affnet_network, monkeypatch):
    import peewee

    import affnet_stripe_ingest.webhook as stripe_webhook

    set_offer_secret(affnet_network.offer, "stripe_webhook_secret", SECRET)

    def database_gone(*args, **kwargs):
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(stripe_webhook, "record", database_gone)
    assert post_signed(affnet_client, fixture_event("charge_dispute_created")).status_code == 503
    monkeypatch.undo()
    row = last_calls(page_text(owner))[0]
    assert row[1:] == ["charge.dispute.created", "503", "error: nothing was recorded"]
