"""Deliveries across the network, as the operator watches them: the endpoints that fail, a retry by hand,
and what the worker has in its queue.

An endpoint is the host of a delivery's last attempt's URL (``-`` when the attempt had none: the plugin
failed before it called out). A delivery is failing when it is waiting with at least one failed attempt,
or failed for good; test sends are left out (they are never retried). Retrying makes a waiting delivery
due now, and puts one failed for good back in the queue, due now: it gets one more attempt (the worker
counts on from its earlier attempts, so a delivery past ``worker.max_attempts`` that fails again fails
for good again at once). A delivery a worker holds right now is left to it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from peewee import Case, fn

from .. import clock
from ..network import audit
from ..storage.db import db
from ..storage.models import Delivery, DeliveryAttempt

NO_HOST = "-"
# What the pages show of each failing delivery and its last attempt: not the payloads (there may be thousands)
_DELIVERY_COLUMNS = (
    Delivery.id,
    Delivery.kind,
    Delivery.status,
    Delivery.attempts,
    Delivery.last_error,
    Delivery.next_attempt_at,
)
_ATTEMPT_COLUMNS = (
    DeliveryAttempt.id,
    DeliveryAttempt.delivery,
    DeliveryAttempt.at,
    DeliveryAttempt.url,
    DeliveryAttempt.status_code,
    DeliveryAttempt.error,
)


@dataclass
class FailingHost:
    host: str
    count: int = 0
    failed: int = 0  # of them, failed for good
    last_error: str = ""
    last_attempt_at: datetime | None = None
    delivery_ids: list[int] = field(default_factory=list)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url or "").hostname or NO_HOST).lower()
    except ValueError:
        return NO_HOST


def _failing():
    return (~Delivery.is_test) & (
        (Delivery.status == "failed") | ((Delivery.status == "pending") & (Delivery.attempts > 0))
    )


def _last_attempts(delivery_ids: list[int]) -> dict[int, DeliveryAttempt]:
    found: dict[int, DeliveryAttempt] = {}
    for start in range(0, len(delivery_ids), 500):
        chunk = delivery_ids[start : start + 500]
        newest = (
            DeliveryAttempt.select(fn.MAX(DeliveryAttempt.id))
            .where(DeliveryAttempt.delivery.in_(chunk))
            .group_by(DeliveryAttempt.delivery)
        )
        for attempt in DeliveryAttempt.select(*_ATTEMPT_COLUMNS).where(DeliveryAttempt.id.in_(newest)):
            found[attempt.delivery_id] = attempt
    return found


def failing_deliveries() -> list[tuple[Delivery, DeliveryAttempt | None, str]]:
    """(delivery, its last attempt, its host) of every failing delivery, oldest first."""
    deliveries = list(Delivery.select(*_DELIVERY_COLUMNS).where(_failing()).order_by(Delivery.id))
    last = _last_attempts([delivery.id for delivery in deliveries])
    return [
        (delivery, last.get(delivery.id), host_of(last[delivery.id].url) if delivery.id in last else NO_HOST)
        for delivery in deliveries
    ]


def failing_hosts() -> list[FailingHost]:
    """The failing endpoints, the one with the most failing deliveries first, each with its newest error."""
    hosts: dict[str, FailingHost] = {}
    for delivery, attempt, host in failing_deliveries():
        entry = hosts.setdefault(host, FailingHost(host))
        entry.count += 1
        entry.failed += delivery.status == "failed"
        entry.delivery_ids.append(delivery.id)
        at = attempt.at if attempt else None
        if at is not None and (entry.last_attempt_at is None or at >= entry.last_attempt_at):
            entry.last_attempt_at = at
            entry.last_error = attempt.error or delivery.last_error or _answer(attempt)
        elif not entry.last_error:
            entry.last_error = delivery.last_error
    return sorted(hosts.values(), key=lambda entry: (-entry.count, entry.host))


def _answer(attempt: DeliveryAttempt) -> str:
    return f"HTTP {attempt.status_code}" if attempt.status_code else ""


def deliveries_of_host(host: str) -> list[tuple[Delivery, DeliveryAttempt | None]]:
    """The failing deliveries of one endpoint, newest first."""
    return [(delivery, attempt) for delivery, attempt, found in reversed(failing_deliveries()) if found == host]


def retry(delivery_ids: list[int], host: str, now=None) -> int:
    """Make these deliveries due now (failed ones back in the queue) unless a worker holds one right now;
    returns how many. Recorded in the audit log with the host and the count."""
    now = now or clock.now()
    count = 0
    with db.atomic():
        for start in range(0, len(delivery_ids), 500):
            chunk = delivery_ids[start : start + 500]
            count += (
                Delivery.update(status="pending", next_attempt_at=now, claimed_by=None, claimed_until=None)
                .where(
                    Delivery.id.in_(chunk)
                    & (~Delivery.is_test)
                    & Delivery.status.in_(("pending", "failed"))
                    & (Delivery.claimed_until.is_null() | (Delivery.claimed_until < now))
                )
                .execute()
            )
        if count:
            changes = {"host": {"new": host}, "count": {"new": count}}
            if len(delivery_ids) == 1:
                changes["delivery"] = {"new": delivery_ids[0]}
            audit.record("delivery.retry", host, changes)
    return count


def retry_host(host: str) -> int:
    """``retry`` every failing delivery of one endpoint."""
    return retry([delivery.id for delivery, _ in deliveries_of_host(host)], host)


def retry_one(delivery: Delivery) -> int:
    """``retry`` one delivery, named in the audit log by the host of its last attempt."""
    attempt = _last_attempts([delivery.id]).get(delivery.id)
    return retry([delivery.id], host_of(attempt.url) if attempt else NO_HOST)


@dataclass(frozen=True)
class Queue:
    due: int  # waiting, due now, not held by a worker
    scheduled: int  # waiting for a later time
    in_flight: int  # held by a worker now (claimed)
    failed: int  # failed for good
    sent_last_hour: int
    oldest_due_at: datetime | None  # when the longest-waiting due delivery became due


def queue(now=None) -> Queue:
    """What the worker has to do, counted in one pass over the deliveries."""
    now = now or clock.now()
    pending = Delivery.status == "pending"
    held = pending & Delivery.claimed_until.is_null(False) & (Delivery.claimed_until >= now)
    free = pending & (Delivery.claimed_until.is_null() | (Delivery.claimed_until < now))

    def count(condition):
        return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)

    row = Delivery.select(
        count(free & (Delivery.next_attempt_at <= now)),
        count(free & (Delivery.next_attempt_at > now)),
        count(held),
        count(Delivery.status == "failed"),
        count((Delivery.status == "sent") & (Delivery.sent_at >= now - timedelta(hours=1))),
    ).tuples()[0]
    oldest = Delivery.select(fn.MIN(Delivery.next_attempt_at)).where(free & (Delivery.next_attempt_at <= now)).scalar()
    return Queue(*(int(value) for value in row), oldest_due_at=oldest)
