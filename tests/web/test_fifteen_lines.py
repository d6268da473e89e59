"""Way 1: the Python version of the product owner's 15 lines, as
``docs/product-owners.md`` shows them (``docs/examples/stripe_webhook.py``),
run against the app with real-shaped Stripe events. The Flask test client
stands in for ``requests``, so no server is needed."""

import importlib.util
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from affnet.core.storage.models import Event, LedgerEntry
from affnet.testing import click, click_id_of

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "plugins" / "stripe_ingest" / "tests" / "fixtures"
NETWORK_URL = "https://network.example"


def load_example():
    spec = importlib.util.spec_from_file_location("stripe_webhook_example", ROOT / "docs/examples/stripe_webhook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


class FlaskAsRequests:
    """``requests.post`` played by the Flask test client (same URL, headers, JSON)."""

    def __init__(self, client):
        self.client = client
        self.calls = []

    def post(self, url, json=None, headers=None, timeout=None):
        assert url.startswith(NETWORK_URL) and timeout, "the example calls the network with a timeout"
        self.calls.append(urlsplit(url).path)
        return self.client.post(urlsplit(url).path, json=json, headers=headers)


def stripe_event(name: str, click_id: str = "", **changes) -> dict:
    event = json.loads((EVENTS / f"{name}.json").read_text().replace("{{click_id}}", click_id))
    event.update(changes)
    return event


@pytest.fixture
def report(affnet_client, affnet_network):
    http = FlaskAsRequests(affnet_client)

    def send(event):
        return example.report_to_network(event, NETWORK_URL, affnet_network.offer_key, http=http)

    send.http = http
    return send


@pytest.fixture
def click_id(affnet_client, affnet_network):
    return click_id_of(click(affnet_client, affnet_network.ref))


def balance(network) -> Decimal:
    return sum(
        (e.amount for e in LedgerEntry.select().where(LedgerEntry.affiliate == network.affiliate.id)), Decimal(0)
    )


def test_fifteen_lines_report_a_sale_and_a_rebill_from_invoice_payment_succeeded(report, affnet_network, click_id):
    sale = report(stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id))
    assert sale.status_code == 201
    assert (sale.json["event"], sale.json["status"], sale.json["attributed"], sale.json["payout"]) == (
        "sale",
        "sale",
        True,
        "8.70",
    )
    rebill = report(stripe_event("invoice_payment_succeeded_acacia_subscription_cycle", click_id))
    assert (rebill.status_code, rebill.json["event"], rebill.json["payout"]) == (201, "rebill", "5.80")
    assert report.http.calls == ["/api/ingest/conversion", "/api/ingest/conversion"]
    assert Event.get(Event.txid == sale.json["txid"]).external_payment_id == "pi_3Q8xKnLkdIwHu7ix0n9mP8qR"


def test_fifteen_lines_report_refunds_and_a_chargeback_in_the_newer_invoice_shape(report, affnet_network, click_id):
    sale = report(stripe_event("invoice_paid_basil_subscription_create", click_id, type="invoice.payment_succeeded"))
    assert (sale.status_code, sale.json["payout"]) == (201, "8.70")
    assert Event.get(Event.txid == sale.json["txid"]).external_payment_id == "pi_3RIb7vLkdIwHu7ix2q3w4e5r"
    refund = report(stripe_event("charge_refunded_basil_partial"))
    assert (refund.status_code, refund.json["event"], refund.json["status"], refund.json["payout"]) == (
        201,
        "refund",
        "rejected",
        "-3.00",
    )
    chargeback = report(stripe_event("charge_dispute_created"))
    assert (chargeback.status_code, chargeback.json["event"], chargeback.json["payout"]) == (201, "chargeback", "-5.70")
    assert report.http.calls[1:] == ["/api/ingest/refund", "/api/ingest/chargeback"]
    assert balance(affnet_network) == Decimal("0.00")


def test_fifteen_lines_keep_yen_whole(report, click_id):
    sale = report(stripe_event("invoice_paid_basil_jpy", click_id, type="invoice.payment_succeeded"))
    event = Event.get(Event.txid == sale.json["txid"])
    assert (event.gross_amount, event.currency, sale.json["payout"]) == (Decimal("4800"), "JPY", "1440")


def test_fifteen_lines_sent_twice_count_once(report, affnet_network, click_id):
    event = stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id)
    first, again = report(event), report(event)
    assert (again.status_code, again.json["duplicate"], again.json["txid"]) == (200, True, first.json["txid"])
    assert Event.select().count() == 1 and balance(affnet_network) == Decimal("8.70")


def test_fifteen_lines_ignore_other_stripe_events(report):
    assert report(stripe_event("customer_created")) is None
    assert report.http.calls == [] and Event.select().count() == 0


def test_the_docs_show_the_python_lines_that_these_tests_run():
    code = (ROOT / "docs/examples/stripe_webhook.py").read_text()
    shown = code[code.index("from decimal import Decimal") :].rstrip()
    assert shown in (ROOT / "docs/product-owners.md").read_text()
