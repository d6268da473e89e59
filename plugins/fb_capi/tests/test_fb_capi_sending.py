"""Sending batches and reading Meta's answers, against the fake Graph API
(no database: the plugin's ``send_deliveries`` hook is called directly)."""

import socket
from datetime import datetime, timedelta

import pytest

from affnet.core import clock
from affnet.plugins.types import OutgoingDelivery
from affnet_fb_capi import plugin
from affnet_fb_capi.events import unix_seconds
from fb_capi_fake_graph import VALID_TOKEN, meta_error

PIXEL, OTHER_PIXEL = "1234567890123", "9876543210987"
NOW = datetime(2026, 11, 24, 6, 0, 0)


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


def outgoing(
    number, pixel_id=PIXEL, token=VALID_TOKEN, age=timedelta(minutes=5), is_test=False, ip="192.0.2.1", **settings
):
    event = {
        "event_name": "Lead",
        "event_time": unix_seconds(NOW - age),
        "event_id": f"tx_{number}",
        "action_source": "website",
        "event_source_url": "https://susurra.example/start",
        "user_data": {"client_user_agent": "UA", "client_ip_address": ip, "external_id": ["ab" * 32]},
    }
    return OutgoingDelivery(
        number, "fb_capi", {"event": event}, {"pixel_id": pixel_id, "access_token": token, **settings}, 0, is_test, NOW
    )


def send(deliveries, fake_graph):
    return {
        result.delivery_id: result
        for result in plugin.send_deliveries(
            kind="fb_capi", deliveries=deliveries, config={"graph_base_url": fake_graph.base_url}
        )
    }


def test_another_kind_is_not_ours():
    assert plugin.send_deliveries(kind="postback", deliveries=[outgoing(1)], config={}) is None


def test_one_pixels_events_go_in_requests_of_at_most_1000(fake_graph):
    results = send([outgoing(n) for n in range(1, 1002)], fake_graph)
    assert sorted(len(request.events) for request in fake_graph.received) == [1, 1000]
    assert {result.outcome for result in results.values()} == {"sent"} and len(results) == 1001


def test_each_pixel_token_and_test_code_gets_its_own_request(fake_graph):
    deliveries = [outgoing(1), outgoing(2), outgoing(3, pixel_id=OTHER_PIXEL), outgoing(4, test_event_code="TEST1")]
    send(deliveries, fake_graph)
    seen = sorted(
        (r.pixel_id, r.body.get("test_event_code", ""), [e["event_id"] for e in r.events]) for r in fake_graph.received
    )
    assert seen == [(PIXEL, "", ["tx_1", "tx_2"]), (PIXEL, "TEST1", ["tx_4"]), (OTHER_PIXEL, "", ["tx_3"])]


@pytest.mark.parametrize(
    "status, body",
    [
        (503, {}),
        (500, meta_error("An unknown error occurred", 1, "OAuthException")),
        (400, meta_error("An unknown error has occurred.", 1, "OAuthException")),
        (400, meta_error("Service temporarily unavailable", 2, "OAuthException")),
        (400, meta_error("(#4) Application request limit reached", 4, "OAuthException")),
        (400, meta_error("(#17) User request limit reached", 17, "OAuthException")),
        (400, meta_error("(#341) Application limit reached", 341, "OAuthException")),
        (400, meta_error("Please retry", 100, "OAuthException", is_transient=True)),
        (429, meta_error("Too many calls", 80004, "OAuthException")),
    ],
    ids=["503", "500-code-1", "code-1", "code-2", "code-4", "code-17", "code-341", "is_transient", "429"],
)
def test_transient_answers_and_5xx_are_retried(fake_graph, status, body):
    fake_graph.answer_next(status, body)
    result = send([outgoing(1)], fake_graph)[1]
    assert (result.outcome, result.status_code) == ("retry", status)
    assert "trying again later" in result.error


@pytest.mark.parametrize(
    "body, says",
    [
        (meta_error("Error validating access token: Session has expired", 190, subcode=463), "has expired"),
        (meta_error("Invalid OAuth access token", 190), "new token"),
        (meta_error("(#10) Permission denied", 10), "may not send events to pixel"),
        (meta_error("(#200) Requires ads_management permission", 200), "may not send events to pixel"),
        (
            meta_error("Unsupported post request. Object with ID does not exist", 100, "GraphMethodException", 33),
            "Object with ID does not exist",
        ),
    ],
    ids=["190-expired", "190-invalid", "10", "200", "100"],
)
def test_invalid_tokens_and_other_permanent_errors_fail_with_a_message_for_the_affiliate(fake_graph, body, says):
    fake_graph.answer_next(400, body)
    result = send([outgoing(1)], fake_graph)[1]
    assert result.outcome == "failed" and says in result.error
    assert body["error"]["fbtrace_id"] in result.error, "Meta's trace id, for the affiliate's support ticket"


def test_the_token_is_never_in_the_reported_url_error_or_excerpt_even_when_meta_echoes_it(fake_graph):
    fake_graph.answer_next(400, meta_error(f"Malformed access token {VALID_TOKEN}", 190))
    result = send([outgoing(1)], fake_graph)[1]
    assert result.url == f"{fake_graph.base_url}/v26.0/{PIXEL}/events"
    for text in (result.url, result.error, result.response_excerpt):
        assert VALID_TOKEN not in text
    assert "…" + VALID_TOKEN[-4:] in result.response_excerpt


def test_meta_unreachable_is_retried():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    results = plugin.send_deliveries(
        kind="fb_capi",
        deliveries=[outgoing(1)],
        config={"graph_base_url": f"http://127.0.0.1:{port}", "affnet.timeout_seconds": 2},
    )
    assert results[0].outcome == "retry" and "could not reach Meta" in results[0].error


def test_an_event_older_than_7_days_fails_alone_and_the_rest_are_sent(fake_graph):
    results = send([outgoing(1, age=timedelta(days=7, minutes=1)), outgoing(2)], fake_graph)
    assert results[1].outcome == "failed" and "7 days" in results[1].error
    assert results[2].outcome == "sent"
    assert [e["event_id"] for r in fake_graph.received for e in r.events] == ["tx_2"]


def test_a_test_delivery_uses_the_test_event_code(fake_graph):
    result = send([outgoing(1, is_test=True, test_event_code="TEST99")], fake_graph)[1]
    assert result.outcome == "sent" and fake_graph.received[0].body["test_event_code"] == "TEST99"


def test_one_invalid_event_fails_alone_and_the_valid_events_of_its_request_are_sent(fake_graph):
    deliveries = [outgoing(n, ip="not-an-ip" if n == 6 else "192.0.2.1") for n in range(1, 9)]
    results = send(deliveries, fake_graph)
    assert results[6].outcome == "failed" and "client_ip_address" in results[6].error
    assert {n for n, result in results.items() if result.outcome == "sent"} == {1, 2, 3, 4, 5, 7, 8}
    assert sorted(e["event_id"] for r in fake_graph.received for e in r.events) == [
        f"tx_{n}" for n in (1, 2, 3, 4, 5, 7, 8)
    ]
    assert len(fake_graph.answered) <= 1 + 2 * 3, "halving finds it in about 2·log2(n) requests"


def test_a_refusal_of_the_whole_request_is_not_split_event_by_event(fake_graph):
    for _ in range(3):
        fake_graph.answer_next(400, meta_error("(#100) Invalid parameter", 100, user_msg="upload_tag is invalid"))
    results = send([outgoing(n) for n in range(1, 9)], fake_graph)
    assert {result.outcome for result in results.values()} == {"failed"} and len(results) == 8
    assert fake_graph.answered == [400, 400, 400], "both halves refused too: the fault is not one event's"


def test_an_unknown_pixel_fails_its_events_in_one_request(fake_graph):
    fake_graph.answer_next(
        400,
        meta_error(
            "Unsupported post request. Object with ID '1234567890123' does not exist", 100, "GraphMethodException", 33
        ),
    )
    results = send([outgoing(n) for n in range(1, 5)], fake_graph)
    assert {result.outcome for result in results.values()} == {"failed"}
    assert fake_graph.answered == [400]
