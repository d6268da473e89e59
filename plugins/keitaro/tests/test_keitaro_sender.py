"""Sending: answers turned into outcomes, masking, pooling, bounded parallelism."""

import socket
from datetime import datetime

import aiohttp
import pytest
from affnet.testing import FakeReceiver

import affnet_keitaro.plugin as keitaro
from affnet.plugins import OutgoingDelivery
from affnet.plugins import mask_url
from affnet_keitaro.sender import Batch, retry_after_seconds

LOCAL = {"affnet.allow_private_targets": True, "affnet.timeout_seconds": 5, "affnet.parallelism": 4}


@pytest.fixture
def tracker():
    fake = FakeReceiver()
    yield fake
    fake.close()


def deliveries(*urls):
    return [
        OutgoingDelivery(n, "postback", {"url": url}, {}, 0, False, datetime(2026, 6, 1))
        for n, url in enumerate(urls, start=1)
    ]


def send(urls, config=LOCAL, report=None):
    return {
        result.delivery_id: result
        for result in keitaro.send_deliveries(
            kind="postback", deliveries=deliveries(*urls), config=config, report=report
        )
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_other_kinds_are_left_to_their_plugins():
    assert (
        keitaro.send_deliveries(kind="fb_capi", deliveries=deliveries("https://x.example/"), config=LOCAL, report=None)
        is None
    )


def test_each_result_is_reported_as_its_postback_completes(tracker):
    """A slow postback does not hold back the report of a fast one, so the
    core can record it before the batch ends."""
    with FakeReceiver() as slow:
        slow.delay_seconds = 1.0
        heard = []
        results = send([slow.base + "/slow", tracker.base + "/fast"], report=lambda result: heard.append(result))
    assert [result.delivery_id for result in heard] == [2, 1], "the fast one first, while the slow one was in flight"
    assert heard == [results[2], results[1]] and {result.outcome for result in heard} == {"sent"}


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, "sent"),
        (204, "sent"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (301, "failed"),
        (302, "failed"),
    ],
)
def test_the_answer_decides_sent_retry_or_failed(tracker, status, outcome):
    tracker.answer_next((status, {"Location": "http://10.0.0.1/"} if 300 <= status < 400 else {}, "answer"))
    (result,) = send([tracker.base + "/p?subid=1"]).values()
    assert (result.outcome, result.status_code) == (outcome, status)
    assert result.url == tracker.base + "/p?subid=1"
    if 300 <= status < 400:
        assert "redirects are not followed" in result.error
        assert len(tracker.requests) == 1, "the redirect's target is never requested"


def test_the_excerpt_of_the_answer_is_cut_to_500_characters(tracker):
    tracker.answer_next((500, {}, "x" * 5000))
    (result,) = send([tracker.base + "/p"]).values()
    assert result.response_excerpt == "x" * 500


def test_retry_after_in_seconds_or_as_a_date_is_honoured(tracker):
    tracker.answer_next((429, {"Retry-After": "120"}, ""), (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, ""))
    first, second = send([tracker.base + "/a"], {**LOCAL, "affnet.parallelism": 1})[1], send([tracker.base + "/b"])[1]
    assert first.retry_after == 120
    assert second.retry_after == 1.0, "a date in the past: retry soon"
    assert retry_after_seconds("999999") == 6 * 3600, "capped at 6 hours"
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_secrets_in_the_url_are_masked_in_the_report(tracker):
    url = tracker.base + "/p?subid=kt&token=abc123&api_key=k-9&secretWord=s&payout=1.00"
    (result,) = send([url]).values()
    assert result.outcome == "sent"
    assert result.url == tracker.base + "/p?subid=kt&token=***&api_key=***&secretWord=***&payout=1.00"
    assert tracker.requests[0]["query"]["token"] == "abc123", "the tracker gets the real value"


def test_mask_url_hides_a_password_in_the_address():
    assert mask_url("https://user:pa55@kt.example/p?key=1&subid=2") == "https://user:***@kt.example/p?key=***&subid=2"
    assert mask_url("https://kt.example/p?subid=a%20b") == "https://kt.example/p?subid=a%20b"


def test_a_refused_destination_fails_with_the_reason_and_is_not_requested(tracker):
    (result,) = send([tracker.base + "/p"], {**LOCAL, "affnet.allow_private_targets": False}).values()
    assert result.outcome == "failed"
    assert "127.0.0.1 is a loopback address" in result.error
    assert tracker.requests == []


def test_a_dead_tracker_costs_a_batch_two_tries_not_one_per_delivery(tracker):
    port = closed_port()
    dead = f"http://127.0.0.1:{port}/p"
    results = send([dead + f"?n={n}" for n in range(6)] + [tracker.base + "/alive"], {**LOCAL, "affnet.parallelism": 1})
    outcomes = [results[n].outcome for n in range(1, 8)]
    assert outcomes == ["retry"] * 6 + ["sent"]
    assert [results[n].error.startswith("network error") for n in range(1, 7)] == [True, True] + [False] * 4
    assert all(results[n].error.startswith(f"not tried: 127.0.0.1:{port} failed 2 times") for n in range(3, 7))


def test_a_slow_tracker_times_out_and_is_retried(tracker):
    tracker.delay_seconds = 2
    (result,) = send([tracker.base + "/slow"], {**LOCAL, "affnet.timeout_seconds": 1}).values()
    assert result.outcome == "retry" and "read timeout" in result.error


def test_parallelism_is_bounded(tracker):
    tracker.delay_seconds = 0.2
    results = send([tracker.base + f"/p?n={n}" for n in range(12)], {**LOCAL, "affnet.parallelism": 3})
    assert [result.outcome for result in results.values()] == ["sent"] * 12
    assert 1 < tracker.max_in_flight <= 3


def test_connections_are_pooled_across_deliveries_and_batches(tracker):
    config = {**LOCAL, "affnet.parallelism": 1}
    send([tracker.base + f"/p?n={n}" for n in range(10)], config)
    send([tracker.base + "/p?n=10"], config)
    assert len(tracker.requests) == 11
    assert len({request["client_port"] for request in tracker.requests}) == 1, "one kept-alive connection"


def test_batch_reads_timeouts_and_parallelism_from_the_config():
    batch = Batch({"affnet.allow_private_targets": False, "affnet.timeout_seconds": 7, "affnet.parallelism": 5})
    assert (batch.timeout.sock_connect, batch.timeout.sock_read, batch.parallelism) == (7.0, 7.0, 5)


def test_an_unusable_url_fails_that_delivery_only(tracker):
    results = send(["http://127.0.0.1:99999/p?token=s3cr3t", "http://[::1/p", tracker.base + "/ok"])
    assert [results[n].outcome for n in (1, 2, 3)] == ["failed", "failed", "sent"]
    assert results[1].error and results[2].error
    assert "s3cr3t" not in results[1].error + results[1].url


def test_network_errors_are_logged_in_words_without_the_url_and_its_secrets(tracker):
    dead = closed_port()
    results = send(
        [
            f"http://127.0.0.1:{dead}/p?token=s3cr3t",  # nobody listens
            f"https://127.0.0.1:{tracker.port}/p?token=s3cr3t",  # TLS to a plain HTTP server
            "http://no-such-host.invalid/p?token=s3cr3t",
        ]
    )  # a name that does not resolve
    assert [results[n].outcome for n in (1, 2, 3)] == ["retry"] * 3
    assert results[1].error == "network error: ClientConnectorError (Connection refused)"
    assert results[2].error.startswith("network error: ClientConnectorSSLError ([SSL: WRONG_VERSION_NUMBER]")
    assert results[3].error.startswith("network error: no-such-host.invalid does not resolve")
    assert not any("s3cr3t" in results[n].error + results[n].url for n in (1, 2, 3))


def test_a_message_that_quotes_the_url_is_logged_without_it():
    from affnet_keitaro.sender import _network_error

    error = aiohttp.ClientPayloadError("Response payload is not completed from https://kt.example/p?token=abc")
    assert _network_error(error) == (
        "network error: ClientPayloadError (Response payload is not completed from (a URL, not shown))"
    )


def test_a_scheme_other_than_http_fails_for_good(tracker):
    (result,) = send(["ftp://tracker.example/p?token=s3cr3t"]).values()
    assert result.outcome == "failed" and result.error.startswith("NonHttpUrlClientError")
    assert "s3cr3t" not in result.error
