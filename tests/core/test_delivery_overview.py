"""Deliveries across the network: failing endpoints by the host of their last attempt, a retry by hand
that never takes a delivery from the worker holding it, and the worker's queue counted."""

from datetime import timedelta

import pytest

from affnet.core.deliveries import overview
from affnet.core.storage.models import AuditEntry, Delivery, DeliveryAttempt


@pytest.fixture
def now(affnet_app, affnet_clock):
    return affnet_clock.now


def delivery(now, status="pending", attempts=1, urls=(), errors=(), **fields):
    made = Delivery.create(
        kind="postback", payload={}, status=status, attempts=attempts, next_attempt_at=now + timedelta(minutes=5),
        **fields,
    )  # fmt: skip
    for n, url in enumerate(urls):
        outcome = "failed" if status == "failed" and n == len(urls) - 1 else "retry"
        error = errors[n] if n < len(errors) else ""
        DeliveryAttempt.create(delivery=made, at=now - timedelta(minutes=len(urls) - n), outcome=outcome, url=url,
                               status_code=None if error else 500, error=error)  # fmt: skip
    return made


def test_failing_endpoints_are_grouped_by_the_host_of_the_last_attempt_most_first(now):
    delivery(now, urls=["https://old.example/p", "https://Tracker.example/p?x=1"], errors=["", "timed out"])
    delivery(now, status="failed", urls=["https://tracker.example/p"], errors=["connection refused"])
    delivery(now, urls=["https://other.example/p"])
    delivery(now, status="sent", urls=["https://tracker.example/p"])
    delivery(now, attempts=0)  # not attempted yet: not failing
    hosts = overview.failing_hosts()
    assert [(h.host, h.count, h.failed) for h in hosts] == [("tracker.example", 2, 1), ("other.example", 1, 0)]
    assert hosts[0].last_error in ("timed out", "connection refused")
    assert hosts[1].last_error == "HTTP 500"
    assert hosts[0].last_attempt_at == now - timedelta(minutes=1)


def test_a_test_send_is_never_a_failing_delivery_nor_retried(now):
    test = delivery(now, status="failed", urls=["https://tracker.example/p"], is_test=True)
    assert overview.failing_hosts() == []
    assert overview.retry([test.id], "tracker.example") == 0
    assert Delivery.get_by_id(test.id).status == "failed"


def test_retrying_a_host_makes_its_deliveries_due_now_and_brings_back_the_failed_ones(now):
    waiting = delivery(now, urls=["https://tracker.example/p"])
    failed = delivery(now, status="failed", attempts=12, urls=["https://tracker.example/p"])
    elsewhere = delivery(now, urls=["https://other.example/p"])
    assert overview.retry_host("tracker.example") == 2
    for made in (waiting, failed):
        again = Delivery.get_by_id(made.id)
        assert (again.status, again.next_attempt_at) == ("pending", now)
    assert Delivery.get_by_id(elsewhere.id).next_attempt_at == now + timedelta(minutes=5)
    entry = AuditEntry.get(AuditEntry.action == "delivery.retry")
    assert (entry.subject, entry.changes) == (
        "tracker.example",
        {"host": {"new": "tracker.example"}, "count": {"new": 2}},
    )


def test_a_delivery_a_worker_holds_is_left_to_it(now):
    held = delivery(
        now, urls=["https://tracker.example/p"], claimed_by="w1:abc", claimed_until=now + timedelta(minutes=4)
    )
    assert overview.retry_one(held) == 0
    assert Delivery.get_by_id(held.id).claimed_by == "w1:abc"
    assert AuditEntry.select().count() == 0


def test_a_sent_delivery_is_not_sent_again_by_a_retry(now):
    sent = delivery(now, status="sent", urls=["https://tracker.example/p"], sent_at=now)
    assert overview.retry([sent.id], "tracker.example") == 0
    assert Delivery.get_by_id(sent.id).status == "sent"


def test_the_worker_queue_counts_each_state(now):
    Delivery.create(kind="postback", payload={}, next_attempt_at=now - timedelta(minutes=2))  # due
    Delivery.create(kind="postback", payload={}, next_attempt_at=now - timedelta(minutes=1))  # due
    Delivery.create(kind="postback", payload={}, next_attempt_at=now + timedelta(hours=1))  # later
    Delivery.create(kind="postback", payload={}, next_attempt_at=now, claimed_by="w",
                    claimed_until=now + timedelta(minutes=5))  # fmt: skip  # in flight
    Delivery.create(kind="postback", payload={}, next_attempt_at=now, claimed_by="w",
                    claimed_until=now - timedelta(minutes=1))  # fmt: skip  # a dead worker's claim: due
    Delivery.create(kind="postback", payload={}, status="failed", next_attempt_at=now)
    Delivery.create(
        kind="postback", payload={}, status="sent", next_attempt_at=now, sent_at=now - timedelta(minutes=30)
    )
    Delivery.create(kind="postback", payload={}, status="sent", next_attempt_at=now, sent_at=now - timedelta(hours=2))
    queue = overview.queue(now)
    assert (queue.due, queue.scheduled, queue.in_flight, queue.failed, queue.sent_last_hour) == (3, 1, 1, 1, 1)
    assert queue.oldest_due_at == now - timedelta(minutes=2)
