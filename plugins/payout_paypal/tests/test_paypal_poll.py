"""Polling a payout: PayPal's item status read as completed, failed or still sent."""

import pytest

from affnet.plugins import PayoutResult
from affnet_payout_paypal import payouts


@pytest.fixture
def sent(fake, payout_request):
    """A payout PayPal took: (its request with the batch id, the batch)."""
    result = payouts.send(payout_request(), fake.config())
    return payout_request(external_id=result.external_id), fake.batches[0]


def test_unclaimed_polls_to_failed_saying_the_recipient_has_no_paypal_account(fake, sent):
    request, batch = sent
    fake.set_item_status(batch.id, "UNCLAIMED")

    result = payouts.poll(request, fake.config())

    assert result.outcome == "failed" and result.external_id == batch.id
    assert "UNCLAIMED" in result.error and "aff@example.com has no PayPal account" in result.error
    assert "30 days" in result.error
    item_id = batch.items[0]["payout_item_id"]
    assert f"cancel the unclaimed PayPal item {item_id}" in result.note


def test_returned_polls_to_failed_with_paypals_reason(fake, sent):
    request, batch = sent
    fake.set_item_status(batch.id, "RETURNED", message="Returned to the sender after 30 days unclaimed.")

    result = payouts.poll(request, fake.config())

    assert result.outcome == "failed"
    assert result.error == "RETURNED at PayPal: Returned to the sender after 30 days unclaimed."


@pytest.mark.parametrize("status", ["FAILED", "BLOCKED", "REFUNDED", "REVERSED"])
def test_a_payment_paypal_did_not_make_or_took_back_polls_to_failed(fake, sent, status):
    request, batch = sent
    fake.set_item_status(batch.id, status)

    result = payouts.poll(request, fake.config())

    assert result.outcome == "failed" and result.error.startswith(f"{status} at PayPal")


@pytest.mark.parametrize("status", ["PENDING", "ONHOLD", "NEW"])
def test_a_payment_still_on_its_way_polls_to_sent(fake, sent, status):
    request, batch = sent
    fake.set_item_status(batch.id, status)

    assert payouts.poll(request, fake.config()) == PayoutResult("sent", external_id=batch.id)


def test_a_denied_batch_polls_to_failed(fake, sent):
    request, batch = sent
    batch.status = "DENIED"

    result = payouts.poll(request, fake.config())

    assert result.outcome == "failed" and "DENIED" in result.error


def test_a_poll_that_cannot_read_the_batch_leaves_the_payout_sent(fake, sent, payout_request):
    request, batch = sent
    unknown = payouts.poll(payout_request(external_id="NOSUCHBATCH1"), fake.config())
    fake.outage = 503
    outage = payouts.poll(request, fake.config())

    assert unknown.outcome == "sent" and "INVALID_RESOURCE_ID" in unknown.error
    assert outage.outcome == "sent" and "HTTP 503" in outage.error and outage.external_id == batch.id


def test_a_poll_without_a_batch_id_asks_for_the_send_again(fake, payout_request):
    result = payouts.poll(payout_request(), fake.config())

    assert result.outcome == "retry" and fake.requests == []
