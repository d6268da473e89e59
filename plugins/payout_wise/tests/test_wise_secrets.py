"""The operator's API token never appears in a result or a log line, in
success or in failure, even where Wise quotes a refused token back."""

import logging
import socket

import pytest

from affnet_payout_wise.payout import poll, send
from wise_cases import IBAN, payout_request


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scenarios(wise, config):
    """(payout id, config, switch) of sends that go every way a send goes."""
    wrong = {**config, "api_token": "wise-wrong-token-quoted-back-by-wise"}
    unreachable = {**config, "base_url": f"http://127.0.0.1:{closed_port()}"}
    return [
        (100, config, lambda: None),  # funded
        (100, config, lambda: None),  # repeated
        (101, config, lambda: setattr(wise, "fund_forbidden", True)),
        (102, config, lambda: wise.refuse_recipient(IBAN, "Recipient refused.")),
        (103, config, lambda: wise.outage(status=503)),
        (104, wrong, lambda: None),  # Wise's 401 quotes the token it refused
        (105, unreachable, lambda: None),
    ]


def test_the_token_is_in_no_result_and_no_log_line(wise, config, caplog):
    caplog.set_level(logging.DEBUG)
    results, tokens = [], set()
    for payout_id, used, switch in scenarios(wise, config):
        switch()
        tokens.add(used["api_token"])
        sent = send(payout_request(payout_id=payout_id), used)
        results += [sent, poll(payout_request(payout_id=payout_id, external_id=sent.external_id or "1"), used)]

    texts = [f"{result.error} {result.note} {result.external_id}" for result in results]
    texts += [record.getMessage() for record in caplog.records]
    assert any("HTTP 401" in text for text in texts) and any("Recipient refused." in text for text in texts)
    assert len(wise.transfers) == 2  # the send repeated made none
    for token in tokens:
        assert not [text for text in texts if token in text], token


def test_a_token_pasted_with_spaces_around_it_still_pays(wise, config):
    assert send(payout_request(), {**config, "api_token": f" {wise.token}\n"}).outcome == "sent"


@pytest.mark.parametrize("where", ["error_description", "message"])
def test_a_wise_message_quoting_the_token_is_masked(wise, config, where):
    wise.outage(status=400, path="/v1/accounts", body={where: f"bad request from {wise.token}"})

    result = send(payout_request(), config)

    assert result.outcome == "failed" and wise.token not in result.error and "[the API token]" in result.error
