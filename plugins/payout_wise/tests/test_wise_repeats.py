"""A send repeated with the same key (after a timeout, a lost answer, a
crash) finds the transfer Wise made the first time and never funds it twice."""

import threading
from dataclasses import replace

import pytest

from affnet.plugins import PayoutResult
from affnet_payout_wise import payout
from affnet_payout_wise.client import WiseClient
from wise_cases import payout_request


def test_a_send_repeated_with_the_same_key_makes_no_second_transfer_and_no_second_funding(wise, config):
    first = payout.send(payout_request(), config)
    send_twice = payout.send(payout_request(), config)

    [transfer_id] = wise.transfers
    assert first == send_twice == PayoutResult("sent", external_id=str(transfer_id))
    assert wise.fundings == [transfer_id]
    funding_calls = [path for method, path in wise.requests if path.endswith("/payments")]
    assert len(funding_calls) == 1  # the repeat read the transfer funded and did not even try


def test_a_send_that_timed_out_after_wise_made_the_transfer_is_retried_into_that_transfer(wise, config):
    answer_now = threading.Event()
    wise.on_create_transfer = lambda transfer: answer_now.wait(5)

    timed_out = payout.send(payout_request(), {**config, "affnet.timeout_seconds": 0.3})
    answer_now.set()
    again = payout.send(payout_request(), config)

    [transfer_id] = wise.transfers
    assert timed_out.outcome == "retry" and "did not answer" in timed_out.error
    assert wise.fundings == [transfer_id]
    assert again == PayoutResult("sent", external_id=str(transfer_id))


def test_a_send_whose_answer_was_lost_is_retried_into_that_transfer(wise, config):
    def lose_the_answer(transfer):
        wise.on_create_transfer = None
        raise ConnectionAbortedError("the worker died before reading the answer")

    wise.on_create_transfer = lose_the_answer

    lost = payout.send(payout_request(), config)
    again = payout.send(payout_request(), config)

    [transfer_id] = wise.transfers
    assert lost.outcome == "retry" and lost.external_id is None
    assert again == PayoutResult("sent", external_id=str(transfer_id))
    assert wise.fundings == [transfer_id]


def test_a_send_whose_funding_answer_was_lost_is_retried_without_funding_again(wise, config):
    def lose_the_answer(transfer):
        wise.on_fund = None
        raise ConnectionAbortedError("the worker died before reading the answer")

    wise.on_fund = lose_the_answer

    lost = payout.send(payout_request(), config)
    again = payout.send(payout_request(), config)

    [transfer_id] = wise.transfers
    assert lost == PayoutResult("retry", external_id=str(transfer_id), error=lost.error)
    assert again == PayoutResult("sent", external_id=str(transfer_id))
    assert wise.fundings == [transfer_id]


def test_a_send_with_the_transfer_known_funds_it_without_making_another(wise, config):
    wise.fund_forbidden = True
    created = payout.send(payout_request(), config)
    wise.fund_forbidden = False
    calls_before = len(wise.requests)

    funded = payout.send(payout_request(external_id=created.external_id), config)

    assert funded == PayoutResult("sent", external_id=created.external_id)
    assert [path for _, path in wise.requests[calls_before:]] == [
        "/v2/profiles",
        f"/v1/transfers/{created.external_id}",
        f"/v3/profiles/30000002/transfers/{created.external_id}/payments",
    ]
    assert len(wise.transfers) == 1 and wise.fundings == [int(created.external_id)]


def test_a_send_that_loses_the_race_to_fund_sees_wise_refuse_and_reports_it_sent(wise, config, monkeypatch):
    """Two sends of one payout at once: both read the transfer unfunded, the
    other one funds it first, Wise refuses this one (422 invalid state)."""
    first = payout.send(payout_request(), config)
    read = WiseClient.transfer
    reads = []

    def stale_first_read(client, transfer_id):
        transfer = read(client, transfer_id)
        reads.append(transfer["status"])
        return {**transfer, "status": "incoming_payment_waiting"} if len(reads) == 1 else transfer

    monkeypatch.setattr(WiseClient, "transfer", stale_first_read)

    second = payout.send(replace(payout_request(), external_id=first.external_id), config)

    assert second == PayoutResult("sent", external_id=first.external_id)
    assert reads == ["processing", "processing"]
    assert wise.fundings == [int(first.external_id)]


@pytest.mark.parametrize("status", ["processing", "funds_converted", "outgoing_payment_sent"])
def test_a_repeated_send_of_a_transfer_wise_moved_on_reports_where_it_is(wise, config, status):
    first = payout.send(payout_request(), config)
    wise.set_status(first.external_id, status)

    again = payout.send(payout_request(), config)

    assert again.outcome == ("completed" if status == "outgoing_payment_sent" else "sent")
    assert len(wise.transfers) == 1 and len(wise.fundings) == 1
