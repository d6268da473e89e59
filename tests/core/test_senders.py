"""``affnet.plugins.send_batches``, the conversion-API sender helper, with no
database: deliveries in, results out, a fake platform in between."""

import json
from datetime import datetime

import pytest

from affnet.plugins import Answer, Destination, OutgoingDelivery, read_answer, retry_after_seconds, send_batches
from affnet.testing import FakeReceiver

SECRET = "sk_live_0123456789abcdefWXYZ"


def outgoing(number, pixel="P1", bad=False):
    return OutgoingDelivery(
        number, "pixel", {"n": number, "bad": bad}, {"pixel": pixel, "token": SECRET}, 0, False, datetime(2026, 6, 1)
    )


def send(receiver, deliveries, checked=False, answer=read_answer, max_events=1000, report=None, **config):
    return {
        r.delivery_id: r
        for r in send_batches(
            deliveries,
            {"affnet.timeout_seconds": 2, **config},
            receiver="Pixelia",
            max_events=max_events,
            report=report,
            answer=answer,
            destination=lambda d: Destination(
                f"{receiver.base}/{d.settings['pixel']}?token={SECRET}", secrets=(d.settings["token"],), checked=checked
            ),
            request=lambda where, batch: {"json": [d.payload for d in batch]},
        )
    }


@pytest.fixture
def platform():
    with FakeReceiver([(200, {}, "ok")]) as receiver:
        yield receiver


def test_deliveries_are_grouped_per_destination_and_batched(platform):
    results = send(platform, [outgoing(n) for n in range(1, 6)] + [outgoing(9, pixel="P2")], max_events=2)
    assert sorted((r["path"], len(json.loads(r["body"]))) for r in platform.requests) == [
        ("/P1", 1),
        ("/P1", 2),
        ("/P1", 2),
        ("/P2", 1),
    ]
    assert {r.outcome for r in results.values()} == {"sent"} and len(results) == 6


def test_secrets_are_masked_in_the_url_error_and_excerpt(platform):
    platform.answer_next((400, {}, f"bad token {SECRET}"))
    [result] = send(platform, [outgoing(1)]).values()
    assert result.outcome == "failed"
    for text in (result.url, result.error, result.response_excerpt):
        assert SECRET not in text
    assert "…WXYZ" in result.url and "…WXYZ" in result.response_excerpt


@pytest.mark.parametrize("status, headers, retry_after", [(503, {}, None), (429, {"Retry-After": "90"}, 90.0)])
def test_429_and_5xx_are_retried_after_the_delay_asked(platform, status, headers, retry_after):
    platform.answer_next((status, headers, "busy"))
    [result] = send(platform, [outgoing(1)]).values()
    assert (result.outcome, result.status_code, result.retry_after) == ("retry", status, retry_after)


def test_an_unreachable_platform_is_retried_with_its_name_in_the_error():
    class Gone:
        base = "http://127.0.0.1:9"  # the discard port: nothing listens there

    [result] = send(Gone, [outgoing(1)]).values()
    assert result.outcome == "retry" and "could not reach Pixelia" in result.error


def test_a_checked_destination_in_the_operators_network_is_refused(platform):
    [result] = send(platform, [outgoing(1)], checked=True).values()
    assert result.outcome == "failed" and "loopback" in result.error and platform.requests == []
    [allowed] = send(platform, [outgoing(2)], checked=True, **{"affnet.allow_private_targets": True}).values()
    assert allowed.outcome == "sent"


def test_a_destination_that_is_a_text_fails_alone_with_it(platform):
    results = send_batches(
        [outgoing(1), outgoing(2)],
        {},
        receiver="Pixelia",
        request=lambda w, b: {},
        destination=lambda d: "no pixel set" if d.id == 1 else Destination(platform.base + "/P", checked=False),
    )
    assert {r.delivery_id: (r.outcome, r.error) for r in results} == {1: ("failed", "no pixel set"), 2: ("sent", "")}


def test_one_refused_event_is_found_by_halving_and_the_others_are_sent(platform):
    def refuses_the_bad_one(request):
        return (400, {}, "invalid event") if any(e["bad"] for e in json.loads(request["body"])) else None

    platform.route = refuses_the_bad_one

    def answer(status, text, headers, where):
        said = read_answer(status, text, headers, where)
        return Answer(said.outcome, said.error, per_event=status == 400)

    results = send(platform, [outgoing(n, bad=n == 6) for n in range(1, 9)], answer=answer)
    assert {n: r.outcome for n, r in results.items()} == {**{n: "sent" for n in range(1, 9)}, 6: "failed"}
    assert len(platform.requests) <= 1 + 2 * 3


def test_report_gets_every_result_as_its_request_is_answered(platform):
    reported = []
    results = send(platform, [outgoing(1), outgoing(2, pixel="P2")], report=reported.append)
    assert sorted(r.delivery_id for r in reported) == sorted(results)


def test_retry_after_is_read_as_seconds_or_a_date_and_capped():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("0") == 1.0
    assert retry_after_seconds("999999") == 6 * 3600
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 1.0, "a date in the past"
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
