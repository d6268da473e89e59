"""Way 1: the Python version of the product owner's short integration, as
``docs/product-owners.md`` and the offer's Stripe page show it
(``docs/examples/stripe_webhook.py``), run against the app with real-shaped
Stripe events of both invoice shapes (API versions before 2025-03-31 and
from it). The Flask test client stands in for ``requests.post``, so no
server is needed; the Node version runs in ``test_fifteen_lines_node.py``."""

import ast
import importlib.util
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from affnet.core.storage.models import Event, LedgerEntry
from affnet.testing import click, click_id_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
EVENTS = ROOT / "plugins" / "stripe_ingest" / "tests" / "fixtures"
NETWORK_URL = "https://NETWORK"  # as the file has it; the offer's page fills in the network's address
ACACIA_PI, BASIL_PI = "pi_3Q8xKnLkdIwHu7ix0n9mP8qR", "pi_3RIb7vLkdIwHu7ix2q3w4e5r"
MOST_LINES = 18


def code_of(name: str) -> str:
    """An example without its comment header (the docstring, or the leading // lines)."""
    lines = (EXAMPLES / name).read_text().splitlines()
    if name.endswith(".py"):
        lines = lines[ast.parse("\n".join(lines)).body[0].end_lineno :]
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines).strip()


class FlaskAsRequests:
    """``requests.post`` played by the Flask test client (same URL, headers, JSON)."""

    def __init__(self, client):
        self.client = client
        self.calls = []

    def post(self, url, json=None, headers=None, timeout=None):
        assert url.startswith(NETWORK_URL + "/api/ingest/") and timeout, "the example calls the network with a timeout"
        self.calls.append(urlsplit(url).path)
        return self.client.post(urlsplit(url).path, json=json, headers=headers)


def stripe_event(name: str, click_id: str = "", **changes) -> dict:
    event = json.loads((EVENTS / f"{name}.json").read_text().replace("{{click_id}}", click_id))
    event.update(changes)
    return event


@pytest.fixture
def example(affnet_network, monkeypatch):
    """The file loaded as the product owner's server would load it, with AFFNET_OFFER_KEY set."""
    monkeypatch.setenv("AFFNET_OFFER_KEY", affnet_network.offer_key)
    spec = importlib.util.spec_from_file_location("stripe_webhook_example", EXAMPLES / "stripe_webhook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def report(affnet_client, example):
    http = FlaskAsRequests(affnet_client)

    def send(event):
        return example.report_to_network(event, http.post)

    send.http = http
    return send


@pytest.fixture
def click_id(affnet_client, affnet_network):
    return click_id_of(click(affnet_client, affnet_network.ref))


def balance(network) -> Decimal:
    return sum(
        (e.amount for e in LedgerEntry.select().where(LedgerEntry.affiliate == network.affiliate.id)), Decimal(0)
    )


def stored(answer) -> Event:
    return Event.get(Event.txid == answer.json["txid"])


def test_fifteen_lines_report_a_sale_and_a_rebill_in_the_older_invoice_shape(report, affnet_network, click_id):
    sale = report(stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id))
    assert sale.status_code == 201
    assert (sale.json["event"], sale.json["attributed"], sale.json["payout"]) == ("sale", True, "8.70")
    event = stored(sale)
    assert (event.external_payment_id, event.user_ref, event.gross_amount, event.currency) == (
        ACACIA_PI,
        "cus_QzX4aB7cD9eF1g",
        Decimal("29.00"),
        "USD",
    )
    assert event.is_first_payment is True and event.click.click_id == click_id
    rebill = report(stripe_event("invoice_payment_succeeded_acacia_subscription_cycle", click_id))
    assert (rebill.status_code, rebill.json["event"], rebill.json["payout"]) == (201, "rebill", "5.80")
    assert stored(rebill).is_first_payment is False
    assert report.http.calls == ["/api/ingest/conversion", "/api/ingest/conversion"]


def test_fifteen_lines_read_the_newer_invoice_shape_from_parent_and_payments(report, affnet_network, click_id):
    sale = report(stripe_event("invoice_paid_basil_subscription_create", click_id))
    assert (sale.status_code, sale.json["event"], sale.json["payout"]) == (201, "sale", "8.70")
    event = stored(sale)
    assert (event.external_payment_id, event.click.click_id, event.user_ref) == (
        BASIL_PI,
        click_id,
        "cus_SCt5bN8mQ2rL4k",
    )


def test_fifteen_lines_report_the_newly_refunded_amount_of_each_refund_once(report, affnet_network, click_id):
    report(stripe_event("invoice_paid_basil_subscription_create", click_id, type="invoice.payment_succeeded"))
    partial = report(stripe_event("charge_refunded_basil_partial"))
    assert (partial.status_code, partial.json["event"], partial.json["status"], partial.json["payout"]) == (
        201,
        "refund",
        "rejected",
        "-3.00",
    )
    rest = report(stripe_event("charge_refunded_basil_full"))
    assert (rest.status_code, rest.json["payout"]) == (201, "-5.70")
    assert [e.external_payment_id for e in Event.select().where(Event.kind == "refund")] == [BASIL_PI, BASIL_PI]
    assert report(stripe_event("charge_refunded_basil_partial")).json["duplicate"] is True
    assert report.http.calls[1:] == ["/api/ingest/refund"] * 3
    assert balance(affnet_network) == Decimal("0.00")


def test_fifteen_lines_report_a_dispute_as_a_chargeback(report, affnet_network, click_id):
    report(stripe_event("invoice_paid_basil_subscription_create", click_id))
    chargeback = report(stripe_event("charge_dispute_created"))
    assert (chargeback.status_code, chargeback.json["event"], chargeback.json["payout"]) == (201, "chargeback", "-8.70")
    assert stored(chargeback).external_payment_id == BASIL_PI
    assert balance(affnet_network) == Decimal("0.00")


def test_fifteen_lines_keep_yen_whole(report, click_id):
    sale = report(stripe_event("invoice_paid_basil_jpy", click_id))
    event = stored(sale)
    assert (event.gross_amount, event.currency, sale.json["payout"]) == (Decimal("4800"), "JPY", "1440")


def test_fifteen_lines_keep_three_decimal_currencies_exact(report, click_id):
    invoice = stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id)
    invoice["data"]["object"].update(currency="kwd", amount_paid=12340)
    event = stored(report(invoice))
    assert (event.gross_amount, event.currency) == (Decimal("12.340"), "KWD")


def test_fifteen_lines_sent_twice_count_once(report, affnet_network, click_id):
    event = stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id)
    first, again = report(event), report(event)
    assert (again.status_code, again.json["duplicate"], again.json["txid"]) == (200, True, first.json["txid"])
    paid = stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id, type="invoice.paid")
    assert report(paid).json["duplicate"] is True, "invoice.paid of the same invoice is the same payment"
    assert Event.select().count() == 1 and balance(affnet_network) == Decimal("8.70")


def test_fifteen_lines_ignore_other_events_a_trial_start_and_one_off_invoices(report, click_id):
    assert report(stripe_event("customer_created")) is None
    assert report(stripe_event("customer_subscription_created_trialing")) is None
    trial_start = stripe_event("invoice_paid_basil_subscription_create", click_id)
    trial_start["data"]["object"]["amount_paid"] = 0
    assert report(trial_start) is None
    manual = stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id)
    manual["data"]["object"]["billing_reason"] = "manual"
    assert report(manual) is None
    assert report.http.calls == [] and Event.select().count() == 0


def test_fifteen_lines_fall_back_to_the_invoice_id_without_payments(report, click_id):
    invoice = stripe_event("invoice_paid_basil_subscription_create", click_id)
    del invoice["data"]["object"]["payments"]
    assert stored(report(invoice)).external_payment_id == "in_1RIb7uLkdIwHu7ixZx8c7v6b"


@pytest.mark.parametrize("name", ["stripe_webhook.py", "stripe_webhook.js"])
def test_the_short_integrations_stay_short(name):
    lines = [line for line in code_of(name).splitlines() if line.strip()]
    assert len(lines) <= MOST_LINES, f"{name}: keep it about 15 lines of code"


@pytest.mark.parametrize("name", ["stripe_webhook.py", "stripe_webhook.js"])
def test_the_docs_show_the_lines_that_these_tests_run(name):
    assert code_of(name) in (ROOT / "docs" / "product-owners.md").read_text()
