"""What Wise refuses fails with Wise's own message; what is not known to
have happened (no answer, a timeout, a 5xx) is retried; transfers Wise gives
back poll to failed with their status as the reason."""

import socket
import time

import pytest

from affnet.plugins import PayoutResult
from affnet_payout_wise.payout import poll, send
from wise_cases import IBAN, payout_request


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_recipient_wise_refuses_fails_with_wises_own_message(wise, config):
    wise.refuse_recipient(IBAN, "This bank account cannot receive payments in EUR.")

    result = send(payout_request(), config)

    assert result == PayoutResult("failed", error="This bank account cannot receive payments in EUR.")
    assert wise.transfers == {}


def test_a_transfer_wise_refuses_fails_with_every_message_wise_gave(wise, config):
    approval = "Quote cannot be accepted with this request due to missing approval."
    errors = [
        {"code": "error.transfer", "message": approval, "path": "quoteUuid", "arguments": []},
        {"code": "NOT_VALID", "message": "Reference is too long.", "path": "reference", "arguments": []},
    ]
    wise.outage(status=422, path="/v1/transfers", body={"errors": errors})

    result = send(payout_request(), config)

    assert result == PayoutResult("failed", error=f"{approval}; Reference is too long.")
    assert wise.transfers == {} and wise.fundings == []


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_an_answer_of_wise_in_trouble_is_retried_and_the_retry_pays_once(wise, config, status):
    wise.outage(status=status, path="/v1/transfers")

    troubled = send(payout_request(), config)
    retried = send(payout_request(), config)

    assert troubled.outcome == "retry" and troubled.external_id is None and wise.fundings == [int(retried.external_id)]
    assert retried.outcome == "sent" and len(wise.transfers) == 1


def test_a_timeout_is_retried(wise, config):
    wise.on_create_transfer = lambda transfer: time.sleep(0.5)

    result = send(payout_request(), {**config, "affnet.timeout_seconds": 0.1})

    assert result == PayoutResult("retry", error="Wise did not answer POST /v1/transfers within 0.1 seconds")


def test_wise_out_of_reach_is_retried(config):
    result = send(payout_request(), {**config, "base_url": f"http://127.0.0.1:{closed_port()}"})

    assert result.outcome == "retry" and result.error.startswith("could not reach Wise (GET /v2/profiles)")


def test_an_answer_without_the_documented_fields_is_retried(wise, config):
    wise.outage(status=200, path="/v1/accounts", body={"status": "ok"})

    result = send(payout_request(), config)

    assert result.outcome == "retry" and "'id'" in result.error and wise.transfers == {}


def test_a_token_wise_refuses_is_retried_once_the_operator_sets_it_again(wise, config):
    result = send(payout_request(), {**config, "api_token": "not-the-token"})

    assert result.outcome == "retry" and "HTTP 401" in result.error and "affnet payouts credentials" in result.error
    assert wise.transfers == {}


def test_no_token_set_is_retried_without_calling_wise(wise, config):
    result = send(payout_request(), {**config, "api_token": ""})

    assert result.outcome == "retry" and "no Wise API token" in result.error and wise.requests == []


@pytest.mark.parametrize("status", ["bounced_back", "cancelled", "funds_refunded", "charged_back"])
def test_a_transfer_wise_gave_back_polls_to_failed_with_its_status_as_the_reason(wise, config, status):
    request = payout_request(external_id=send(payout_request(), config).external_id)
    wise.set_status(request.external_id, "outgoing_payment_sent")
    wise.set_status(request.external_id, status)

    result = poll(request, config)

    assert result.outcome == "failed" and result.external_id == request.external_id
    assert result.error.startswith(f"{status}: ")


@pytest.mark.parametrize(
    "status", ["incoming_payment_initiated", "processing", "funds_converted", "waiting_recipient_input_to_proceed"]
)
def test_a_transfer_on_its_way_polls_to_sent(wise, config, status):
    request = payout_request(external_id=send(payout_request(), config).external_id)
    wise.set_status(request.external_id, status)

    assert poll(request, config).outcome == "sent"


def test_a_poll_without_an_answer_is_retried(config):
    request = payout_request(external_id="50000001")

    result = poll(request, {**config, "base_url": f"http://127.0.0.1:{closed_port()}"})

    assert result.outcome == "retry" and result.external_id == "50000001"
