"""A test conversion goes through the real ingest path (checks, attribution, pricing, answer), is stored
marked as a test, and touches nothing real: no ledger entry, no delivery, no plugin, no report, no payout,
no real payment's idempotency slot, no attribution of a later real event."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from affnet.core import reports
from affnet.core.deliveries import setting_versions
from affnet.core.earnings import ledger
from affnet.core.events import conversions
from affnet.core.events.attribution import Attribution
from affnet.core.events.ingest import IngestError, parse_conversion
from affnet.core.storage.models import AuditEntry, Delivery, Event, LedgerEntry
from affnet.testing import click, click_id_of, ingest, sale_body
from tests import sample_plugin


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


@pytest.fixture
def postback_set(affnet_network):
    """The affiliate has a delivery set: every real event of theirs makes one."""
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, {"url": "https://receiver.example/hit"})
    return affnet_network


@pytest.fixture
def recorder(affnet_services):
    return affnet_services.recorder


def _test_sale(recorder, network, payment="pi_1", amount="29.00", participation=None, **fields):
    body = {"event": "sale", "external_payment_id": payment, "gross_amount": amount, "test": True, **fields}
    attribution = Attribution(participation, None) if participation is not None else None
    return recorder.conversion(network.offer, parse_conversion(body, network.offer), attribution=attribution)


def test_a_test_conversion_is_recorded_priced_and_marked(recorder, affnet_network):
    outcome = _test_sale(recorder, affnet_network, participation=affnet_network.participation)
    assert outcome.http_status == 201
    assert outcome.body["test"] is True and outcome.body["attributed"] is True
    assert (outcome.body["payout"], outcome.body["currency"]) == ("8.70", "USD"), "priced by the offer's 30% rule"
    event = Event.get(Event.txid == outcome.body["txid"])
    assert event.is_test and event.payout == Decimal("8.70") and event.affiliate_id == affnet_network.affiliate.id


def test_a_test_conversion_books_no_ledger_entry_makes_no_delivery_and_no_plugin_hears_of_it(
    affnet_client, recorder, postback_set
):
    _test_sale(recorder, postback_set, participation=postback_set.participation)
    assert LedgerEntry.select().count() == 0
    assert Delivery.select().count() == 0
    assert sample_plugin.recorded_events == []
    assert ledger.balances(postback_set.affiliate.id) == {}
    click_id = click_id_of(click(affnet_client, postback_set.ref))
    ingest(affnet_client, postback_set, "conversion", sale_body(click_id, payment="pi_real"))
    assert Delivery.select().count() == 1 and LedgerEntry.select().count() == 1, "a real sale still does both"


def test_a_test_conversion_is_left_out_of_every_report_and_the_stats_export(recorder, affnet_network):
    _test_sale(recorder, affnet_network, participation=affnet_network.participation)
    today = date.today()
    for group in ("day", "offer", "affiliate"):
        total = reports.build_report(group, today - timedelta(days=1), today + timedelta(days=1)).total
        assert (total.sales, total.commission) == (0, {}), group
    mine = reports.build_report("day", today, today, affiliate=affnet_network.affiliate.id).total
    assert (mine.sales, mine.commission) == (0, {})
    page = reports.export_page(reports.ExportFilter(affnet_network.affiliate.id))
    assert list(page.rows) == []


def test_a_test_does_not_take_the_idempotency_slot_of_a_real_payment(affnet_client, recorder, affnet_network):
    test = _test_sale(recorder, affnet_network, payment="pi_shared")
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    real = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_shared"))
    assert real.status_code == 201 and real.get_json()["duplicate"] is False and "test" not in real.get_json()
    again = _test_sale(recorder, affnet_network, payment="pi_shared")
    assert (again.http_status, again.body["duplicate"], again.body["txid"]) == (200, True, test.body["txid"])
    assert [e.is_test for e in Event.select().order_by(Event.id)] == [True, False]


def test_a_refund_is_never_applied_to_a_test_payment(affnet_client, recorder, affnet_network):
    _test_sale(recorder, affnet_network, payment="pi_7", participation=affnet_network.participation)
    refund = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_7"})
    assert refund.status_code == 202 and refund.get_json()["pending"] is True, "it waits for the real payment"
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    real = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_7")).get_json()
    reversal = Event.get(Event.kind == "refund")
    assert reversal.reverses.txid == real["txid"] and reversal.payout == Decimal("-8.70")


def test_a_refund_waiting_for_its_payment_stays_waiting_when_a_test_of_that_payment_arrives(
    affnet_client, recorder, affnet_network
):
    ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_8"})
    _test_sale(recorder, affnet_network, payment="pi_8", participation=affnet_network.participation)
    assert recorder.apply_waiting_reversals() == 0
    assert Event.get(Event.kind == "refund").pending is True
    assert LedgerEntry.select().count() == 0


def test_a_test_conversion_never_attributes_a_customers_later_real_payment(affnet_client, recorder, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    _test_sale(recorder, affnet_network, payment="pi_t", click_id=click_id, user_ref="cus_9")
    assert Event.get().attributed, "the test itself is attributed by its click"
    rebill = {"user_ref": "cus_9", "event": "rebill", "external_payment_id": "pi_r", "gross_amount": "29.00"}
    answer = ingest(affnet_client, affnet_network, "conversion", rebill).get_json()
    assert answer["attributed"] is False and answer["payout"] == "0.00"


def test_only_a_test_conversion_may_be_attributed_by_hand(recorder, affnet_network):
    body = {"event": "sale", "external_payment_id": "pi_1", "gross_amount": "29.00"}
    with pytest.raises(ValueError):
        recorder.conversion(
            affnet_network.offer,
            parse_conversion(body, affnet_network.offer),
            attribution=Attribution(affnet_network.participation, None),
        )
    assert Event.select().count() == 0


def test_the_owners_test_form_uses_the_ingest_checks_and_is_audited(recorder, affnet_network):
    with pytest.raises(IngestError) as refused:
        conversions.record_test(recorder, affnet_network.offer, "sale")
    assert "gross_amount" in refused.value.fields and Event.select().count() == 0
    outcome = conversions.record_test(
        recorder, affnet_network.offer, "trial", participation=affnet_network.participation
    )
    assert (outcome.body["payout"], outcome.body["test"]) == ("2.00", True)
    entry = AuditEntry.get(AuditEntry.action == "conversion.test")
    assert entry.subject == outcome.body["txid"] and entry.offer_id == affnet_network.offer.id
