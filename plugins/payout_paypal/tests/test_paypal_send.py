"""Sending a payout: one PayPal batch per payout, never two, whatever is
repeated, lost or refused."""

import json
import time

import pytest

from affnet.plugins import PayoutResult
from affnet.testing import free_port
from affnet_payout_paypal import payouts
from fake_paypal import DropAnswer, Hold


def test_a_payout_makes_one_batch_with_its_key_and_polls_to_completed(fake, payout_request):
    request = payout_request(payout_id=42, amount="25.50")

    result = payouts.send(request, fake.config())

    assert result.outcome == "sent" and result.error == ""
    [batch] = fake.batches
    assert result.external_id == batch.id
    assert batch.sender_batch_id == "affnet-payout-42" and batch.request_id == "affnet-payout-42"
    [item] = json.loads(fake.calls("POST")[0].body)["items"]
    assert item == {
        "recipient_type": "EMAIL",
        "receiver": "aff@example.com",
        "amount": {"value": "25.50", "currency": "USD"},
        "sender_item_id": "42",
        "note": "affnet payout 42",
    }
    sent = payout_request(payout_id=42, amount="25.50", external_id=result.external_id)
    assert payouts.poll(sent, fake.config()).outcome == "sent"
    fake.set_item_status(batch.id, "SUCCESS")
    assert payouts.poll(sent, fake.config()) == PayoutResult("completed", external_id=batch.id)


def test_a_send_repeated_with_the_same_key_makes_no_second_batch(fake, payout_request):
    first = payouts.send(payout_request(), fake.config())
    again = payouts.send(payout_request(), fake.config())

    assert again.outcome == "sent" and again.external_id == first.external_id
    assert len(fake.batches) == 1
    assert [call.headers["paypal-request-id"] for call in fake.calls("POST")] == ["affnet-payout-42"] * 2


def test_a_send_repeated_after_paypal_forgot_the_request_id_finds_the_first_batch(fake, payout_request):
    first = payouts.send(payout_request(), fake.config())
    fake.forget_request_ids()  # only the sender_batch_id check is left, as in PayPal's sandbox

    again = payouts.send(payout_request(), fake.config())

    assert again.outcome == "sent" and again.external_id == first.external_id
    assert "earlier send" in again.note
    assert len(fake.batches) == 1


def test_a_used_sender_batch_id_whose_batch_cannot_be_found_sends_nothing_new(fake, payout_request):
    payouts.send(payout_request(), fake.config())
    fake.forget_request_ids()
    fake.link_duplicates = False
    unlinked = payouts.send(payout_request(), fake.config())
    fake.link_duplicates = True
    fake.batches[0].items.clear()
    unreadable = payouts.send(payout_request(), fake.config())

    assert unlinked.outcome == "retry" and "already exists but does not link it" in unlinked.error
    assert unreadable.outcome == "retry" and "no item affnet can read" in unreadable.error
    assert len(fake.batches) == 1


def test_a_batch_under_the_same_key_that_pays_someone_else_is_not_taken_for_this_payout(fake, payout_request):
    payouts.send(payout_request(email="someone@example.com"), fake.config())  # another database's payout 42
    fake.forget_request_ids()

    result = payouts.send(payout_request(email="aff@example.com"), fake.config())

    assert result.outcome == "failed" and result.external_id is None
    assert "nothing was paid for this payout" in result.error
    assert len(fake.batches) == 1


def test_a_send_whose_answer_was_lost_is_retried_and_finds_its_batch(fake, payout_request):
    def lose_the_answer(batch):
        raise DropAnswer

    fake.on_create_payout = lose_the_answer
    lost = payouts.send(payout_request(), fake.config())
    fake.on_create_payout = None
    again = payouts.send(payout_request(), fake.config())

    assert lost.outcome == "retry" and "could not reach PayPal" in lost.error
    assert again.outcome == "sent" and again.external_id == fake.batches[0].id
    assert len(fake.batches) == 1


def test_a_send_that_timed_out_after_paypal_made_the_batch_pays_once(fake, payout_request):
    fake.on_create_payout = hold = Hold()  # PayPal made the batch; its answer is late
    try:
        late = payouts.send(payout_request(), fake.config(**{"affnet.timeout_seconds": 0.3}))
        again = payouts.send(payout_request(), fake.config())
    finally:
        hold.release()

    assert late.outcome == "retry" and "ReadTimeout" in late.error
    assert hold.held == fake.batches
    assert again.outcome == "sent" and again.external_id == fake.batches[0].id
    assert len(fake.batches) == 1


@pytest.mark.parametrize(
    ("status", "name", "message"),
    [
        (422, "INSUFFICIENT_FUNDS", "Sender does not have sufficient funds. Please add funds and retry."),
        (400, "VALIDATION_ERROR", "Invalid request - see details"),
        (403, "AUTHORIZATION_ERROR", "Authorization error occurred."),
    ],
)
def test_a_refusal_fails_with_paypals_message(fake, payout_request, status, name, message):
    fake.refuse(status, name, message)

    result = payouts.send(payout_request(), fake.config())

    assert result.outcome == "failed"
    assert f"HTTP {status}" in result.error and name in result.error and message in result.error
    assert fake.batches == []


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_is_tried_again_later(fake, payout_request, status):
    fake.outage = status

    result = payouts.send(payout_request(), fake.config())

    assert result.outcome == "retry" and str(status) in result.error
    assert fake.batches == []


def test_a_timeout_is_tried_again_later_and_the_next_send_pays_once(fake, payout_request):
    fake.delay_seconds = 0.6
    slow = payouts.send(payout_request(), fake.config(**{"affnet.timeout_seconds": 0.2}))
    fake.delay_seconds = 0
    time.sleep(0.8)  # the slow request reaches "PayPal" after affnet gave up on it
    again = payouts.send(payout_request(), fake.config())

    assert slow.outcome == "retry" and "Timeout" in slow.error
    assert again.outcome == "sent" and len(fake.batches) == 1


def test_paypal_out_of_reach_is_tried_again_later(payout_request):
    config = {"base_url": f"http://127.0.0.1:{free_port()}", "client_id": "id", "client_secret": "s3cr3t-value-9"}

    result = payouts.send(payout_request(), config)

    assert result.outcome == "retry" and "could not reach PayPal" in result.error


@pytest.mark.parametrize(
    ("currency", "amount", "value"),
    [("USD", "25.5", "25.50"), ("EUR", "10", "10.00"), ("GBP", "0.01", "0.01"), ("JPY", "1500", "1500")],
)
def test_the_amount_goes_with_the_currencys_minor_units(fake, payout_request, currency, amount, value):
    result = payouts.send(payout_request(amount=amount, currency=currency), fake.config())

    assert result.outcome == "sent", fake.refused
    assert fake.batches[0].body["items"][0]["amount"] == {"value": value, "currency": currency}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"currency": "HUF", "amount": "1000"}, "not made in HUF"),
        ({"currency": "BRL"}, "not made in BRL"),
        ({"amount": "0"}, "not an amount"),
        ({"amount": "1.005"}, "not an amount"),
        ({"currency": "JPY", "amount": "10.5"}, "not an amount"),
        ({"email": "not-an-email"}, "not a PayPal email"),
    ],
)
def test_what_paypal_cannot_pay_fails_before_any_call(fake, payout_request, change, why):
    result = payouts.send(payout_request(**change), fake.config())

    assert result.outcome == "failed" and why in result.error
    assert fake.requests == []


def test_a_send_without_credentials_fails_before_any_call(fake, payout_request):
    result = payouts.send(payout_request(), {"base_url": fake.base})

    assert result.outcome == "failed" and "affnet payouts credentials" in result.error
    assert fake.requests == []


def test_refused_credentials_fail_without_a_payment(fake, payout_request):
    result = payouts.send(payout_request(), fake.config(client_secret="EWrongSecretOfTheRightShape123"))

    assert result.outcome == "failed" and "invalid_client" in result.error
    assert fake.batches == [] and fake.calls("POST") == []
