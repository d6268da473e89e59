"""When the token may not fund (personal tokens of EU and UK accounts, PSD2),
the transfer is left created for the operator to fund in Wise, and the
payout completes when polling sees it sent. A balance too short is retried."""

from affnet.plugins import PayoutResult
from affnet_payout_wise.payout import FUND_BY_HAND, poll, send
from wise_cases import payout_request


def test_a_transfer_the_token_may_not_fund_is_left_created_and_reported_sent_with_the_note(wise, config):
    wise.fund_forbidden = True

    result = send(payout_request(), config)

    [(transfer_id, transfer)] = wise.transfers.items()
    assert result == PayoutResult("sent", external_id=str(transfer_id), note=FUND_BY_HAND)
    assert result.note.startswith("created in Wise; fund it in Wise's app or website")
    assert transfer["status"] == "incoming_payment_waiting" and wise.fundings == []


def test_a_transfer_funded_by_hand_completes_when_polling_sees_it_sent(wise, config):
    wise.fund_forbidden = True
    request = payout_request(external_id=send(payout_request(), config).external_id)

    waiting = poll(request, config)
    wise.set_status(request.external_id, "processing")  # the operator funded it in Wise's app
    wise.set_status(request.external_id, "outgoing_payment_sent")
    done = poll(request, config)

    assert waiting == PayoutResult("sent", external_id=request.external_id, note="waiting to be funded in Wise")
    assert done == PayoutResult("completed", external_id=request.external_id)


def test_a_repeated_send_the_token_may_not_fund_makes_no_second_transfer(wise, config):
    wise.fund_forbidden = True

    first, again = send(payout_request(), config), send(payout_request(), config)

    assert first == again and len(wise.transfers) == 1


def test_a_balance_too_short_is_retried_and_the_same_transfer_funded_once_topped_up(wise, config):
    wise.balance_short = True
    short = send(payout_request(), config)
    wise.balance_short = False

    topped_up = send(payout_request(), config)

    [transfer_id] = wise.transfers
    assert short.outcome == "retry" and "transfer.insufficient_funds" in short.error
    assert short.external_id == str(transfer_id)
    assert topped_up == PayoutResult("sent", external_id=str(transfer_id))
    assert wise.fundings == [transfer_id]
