"""A product owner who reports through both ways at once (their own 15 lines
of docs/examples/stripe_webhook.py, and Stripe pointed at the network) has
every payment, refund and chargeback counted once."""

import importlib.util
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import affnet_stripe_ingest.plugin as stripe_plugin
from affnet.core.storage.models import Event, LedgerEntry
from affnet.core.network.offer_secrets import set_offer_secret
from affnet.testing import click, click_id_of
from affnet_stripe_ingest.webhook import SECRET_NAME
from stripe_ingest_support import TEST_SECRET, event_data, post_event

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "stripe_webhook.py"


@pytest.fixture
def affnet_plugins():
    return [stripe_plugin]


@pytest.fixture
def fifteen_lines(affnet_client, affnet_network, monkeypatch):
    monkeypatch.setenv("AFFNET_OFFER_KEY", affnet_network.offer_key)
    spec = importlib.util.spec_from_file_location("stripe_webhook_example_both_ways", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Http:
        @staticmethod
        def post(url, json=None, headers=None, timeout=None):
            return affnet_client.post(urlsplit(url).path, json=json, headers=headers)

    return lambda event: module.report_to_network(event, Http.post)


def test_payment_refund_and_chargeback_sent_both_ways_are_each_counted_once(
    affnet_client, affnet_network, fifteen_lines
):
    set_offer_secret(affnet_network.offer, SECRET_NAME, TEST_SECRET)
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    slug = affnet_network.offer.slug
    sale = event_data("invoice_paid_basil_subscription_create", click_id)
    assert post_event(affnet_client, slug, sale).status_code == 201
    assert fifteen_lines({**sale, "type": "invoice.payment_succeeded"}).json["duplicate"] is True
    refund = event_data("charge_refunded_basil_partial")
    assert fifteen_lines(refund).status_code == 201
    assert post_event(affnet_client, slug, refund).get_json()["results"][0]["duplicate"] is True
    dispute = event_data("charge_dispute_created")
    assert post_event(affnet_client, slug, dispute).status_code == 201
    assert fifteen_lines(dispute).json["duplicate"] is True
    assert [e.kind for e in Event.select().order_by(Event.id)] == ["sale", "refund", "chargeback"]
    entries = LedgerEntry.select().where(LedgerEntry.affiliate == affnet_network.affiliate.id)
    assert sorted(entry.amount for entry in entries) == [Decimal("-5.70"), Decimal("-3.00"), Decimal("8.70")]
