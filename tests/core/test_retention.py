"""Data retention: old clicks are anonymised and deleted, never those that
money still needs, by the worker, in bounded batches."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from affnet.core import clock
from affnet.core.storage.models import Click, LedgerEntry, Payout
from affnet.core.storage.retention import RetentionJob, apply_retention, unsettled_commissions
from affnet.testing import click, click_id_of, ingest, sale_body

START = datetime(2026, 3, 2, 12, 0)


@pytest.fixture
def affnet_config():
    return {"retention.anonymize_after_days": 30, "retention.delete_clicks_after_days": 90}


@pytest.fixture
def at_start(affnet_clock):
    affnet_clock.set(START)
    return affnet_clock


def visit(client, network, **params) -> str:
    return click_id_of(click(client, network.ref, s1="sub-a", fbclid="IwAR9", clickid="kt-1", **params))


def row(click_id) -> Click | None:
    return Click.get_or_none(Click.click_id == click_id)


def sell(client, network, click_id, payment="pi_1"):
    response = ingest(client, network, "conversion", sale_body(click_id, payment=payment))
    assert response.status_code == 201 and response.get_json()["attributed"]
    return response.get_json()["txid"]


def pay(affiliate, amount="8.70", status="sent"):
    """A payout as the payout run books it: the payout and its negative ledger entry."""
    payout = Payout.create(
        affiliate=affiliate,
        currency="USD",
        amount=Decimal(amount),
        method="test",
        status=status,
        idempotency_key=f"affnet-payout-{clock.now().isoformat()}-{status}",
    )
    LedgerEntry.create(
        affiliate=affiliate,
        currency="USD",
        amount=-Decimal(amount),
        kind="payout",
        payout=payout,
        available_at=clock.now(),
    )
    return payout


def test_clicks_older_than_the_setting_lose_ip_user_agent_and_referer(
    affnet_client, affnet_network, affnet_settings, at_start
):
    old = visit(affnet_client, affnet_network)
    at_start.advance(days=20)
    young = visit(affnet_client, affnet_network)
    at_start.advance(days=11)
    counts = apply_retention(affnet_settings)
    assert counts["anonymised"] == 1
    anonymised, kept = row(old), row(young)
    assert (anonymised.ip, anonymised.user_agent, anonymised.referer) == (None, None, None)
    assert (anonymised.s1, anonymised.fbclid, anonymised.clickid) == ("sub-a", "IwAR9", "kt-1"), (
        "the affiliate's tracking data stays"
    )
    assert kept.ip and kept.user_agent


def test_anonymising_twice_changes_nothing_more(affnet_client, affnet_network, affnet_settings, at_start):
    visit(affnet_client, affnet_network)
    at_start.advance(days=31)
    assert apply_retention(affnet_settings)["anonymised"] == 1
    assert apply_retention(affnet_settings)["anonymised"] == 0


def test_clicks_older_than_the_setting_are_deleted(affnet_client, affnet_network, affnet_settings, at_start):
    old = visit(affnet_client, affnet_network)
    at_start.advance(days=10)
    young = visit(affnet_client, affnet_network)
    at_start.advance(days=81)
    assert apply_retention(affnet_settings)["deleted"] == 1
    assert row(old) is None and row(young) is not None


@pytest.mark.parametrize("affnet_config", [{"retention.delete_clicks_after_days": 10}])
def test_no_click_inside_its_offers_cookie_window_is_deleted(affnet_client, affnet_network, affnet_settings, at_start):
    click_id = visit(affnet_client, affnet_network)
    at_start.advance(days=59)  # the offer's cookie lasts 60 days
    assert apply_retention(affnet_settings)["deleted"] == 0
    assert sell(affnet_client, affnet_network, click_id), "a late conversion still attributes"
    late = visit(affnet_client, affnet_network)
    at_start.advance(days=61)
    assert apply_retention(affnet_settings)["deleted"] == 1
    assert row(late) is None and row(click_id) is not None


def test_a_click_an_event_points_to_is_never_deleted(affnet_client, affnet_network, affnet_settings, at_start):
    click_id = visit(affnet_client, affnet_network)
    sell(affnet_client, affnet_network, click_id)
    at_start.advance(days=8)
    pay(affnet_network.affiliate)
    at_start.advance(days=400)
    counts = apply_retention(affnet_settings)
    assert counts["deleted"] == 0
    kept = row(click_id)
    assert kept is not None and kept.ip is None, "kept, but anonymised once its commission is paid"
    refund = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_1"})
    assert refund.get_json()["payout"] == "-8.70", "a late refund still finds its click and affiliate"


def test_a_click_of_a_commission_on_hold_or_unpaid_keeps_its_details_until_paid(
    affnet_client, affnet_network, affnet_settings, at_start
):
    job = RetentionJob(anonymize_after_days=3, delete_clicks_after_days=0, time_budget=None, pass_every=timedelta(0))
    click_id = visit(affnet_client, affnet_network)
    sell(affnet_client, affnet_network, click_id)
    at_start.advance(days=4)  # on hold (7 days)
    job.run()
    assert row(click_id).ip is not None
    at_start.advance(days=10)  # payable, not paid
    job.run()
    assert row(click_id).ip is not None
    pay(affnet_network.affiliate, status="pending")
    job.run()
    assert row(click_id).ip is not None, "a payout not sent yet has paid nothing"
    pay(affnet_network.affiliate, status="sent")
    assert job.run()["anonymised"] == 1
    assert row(click_id).ip is None and row(click_id).user_agent is None


def test_a_payout_booked_before_the_commission_became_payable_does_not_settle_it(
    affnet_client, affnet_network, at_start
):
    click_id = visit(affnet_client, affnet_network)
    sell(affnet_client, affnet_network, click_id)
    at_start.advance(days=3)
    pay(affnet_network.affiliate)  # pays what was payable on day 3: not this sale, payable on day 7
    at_start.advance(days=30)
    assert unsettled_commissions(clock.now()).count() == 1
    pay(affnet_network.affiliate)
    assert unsettled_commissions(clock.now()).count() == 0


@pytest.mark.parametrize("affnet_config", [{}])
def test_retention_is_off_by_default(affnet_client, affnet_network, affnet_settings, at_start):
    click_id = visit(affnet_client, affnet_network)
    at_start.advance(days=3650)
    assert apply_retention(affnet_settings) == {"deleted": 0, "anonymised": 0}
    assert row(click_id).ip is not None


def test_the_worker_runs_retention(affnet_client, affnet_network, affnet_worker, at_start):
    old = visit(affnet_client, affnet_network)
    at_start.advance(days=91)
    affnet_worker.run_once()
    assert row(old) is None


def test_work_goes_in_bounded_batches_and_resumes_where_it_stopped(affnet_client, affnet_network, at_start):
    ids = [visit(affnet_client, affnet_network) for _ in range(5)]
    at_start.advance(days=91)
    job = RetentionJob(anonymize_after_days=0, delete_clicks_after_days=90, batch_size=2, time_budget=0)
    assert [job.run()["deleted"] for _ in range(4)] == [2, 2, 1, 0]
    assert all(row(click_id) is None for click_id in ids)
    finished_at = clock.now()
    at_start.set(START)
    newer = visit(affnet_client, affnet_network)
    at_start.set(finished_at + timedelta(hours=23))
    assert job.run()["deleted"] == 0, "one pass a day"
    at_start.advance(days=1)
    assert job.run()["deleted"] == 1 and row(newer) is None
