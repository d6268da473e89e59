"""The outbox: deliveries written with their event, claimed and sent by workers.

Claiming marks a batch of due deliveries with a worker's id and a claim that
expires; on PostgreSQL the batch is picked with ``FOR UPDATE SKIP LOCKED`` so
several workers never take the same row. A worker that dies leaves claims
that simply expire. Each attempt is logged; failures wait with exponential
backoff, and a delivery that keeps failing fails for good after
``max_attempts``.
"""

import json
import logging
import random
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from .. import clock
from ..storage import sql
from . import setting_versions
from ..storage.db import db, is_postgres
from ..storage.models import Delivery, DeliveryAttempt, SettingVersion
from ...plugins.manager import call_isolated, declared_by_name
from ...plugins.types import DeliveryResult, OutgoingDelivery

log = logging.getLogger("affnet.outbox")
EXCERPT = 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    base_seconds: int = 60
    factor: int = 3
    max_seconds: int = 21600

    @classmethod
    def from_settings(cls, settings) -> "RetryPolicy":
        return cls(
            settings["worker.max_attempts"],
            settings["worker.retry_base_seconds"],
            settings["worker.retry_factor"],
            settings["worker.retry_max_seconds"],
        )

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (with ±10% jitter)."""
        seconds = min(self.base_seconds * self.factor ** max(attempts - 1, 0), self.max_seconds)
        return seconds * random.uniform(0.9, 1.1)


@dataclass
class KindRegistry:
    """Delivery kinds by name, with the name of the plugin that owns each."""

    kinds: dict
    owners: dict

    @classmethod
    def from_plugins(cls, pm) -> "KindRegistry":
        return cls(*declared_by_name(pm, "delivery_kinds"))


def deliveries_for(pm, registry: KindRegistry, info) -> list[Delivery]:
    """The event's deliveries as the plugins ask for them, unsaved (they are
    inserted with the event). A plugin that fails is logged and skipped."""
    if info.affiliate_id is None:
        return []
    in_force = setting_versions.all_in_force(registry.kinds, info.affiliate_id, info.participation_id, info.occurred_at)
    settings = {name: current.values for name, current in in_force.items()}
    versions = {name: current.version_id for name, current in in_force.items()}
    created, now = [], clock.now()
    for batch in call_isolated(pm, "deliveries_for_event", event=info, settings=settings):
        for new in batch:
            if _storable(new):
                created.append(
                    Delivery(
                        kind=new.kind,
                        setting=versions.get(new.kind),
                        payload=new.payload,
                        next_attempt_at=info.occurred_at,
                        created_at=now,
                    )
                )
    return created


def _storable(new) -> bool:
    try:
        json.dumps(new.payload)
    except (TypeError, ValueError):
        log.error("a %r delivery was dropped: its payload is not JSON", getattr(new, "kind", "?"))
        return False
    return True


# What a claim hands back of each delivery (named tuples: building models for them cost more than the claim)
_CLAIMED = (
    Delivery.id,
    Delivery.kind,
    Delivery.setting.alias("setting_id"),
    Delivery.payload,
    Delivery.attempts,
    Delivery.is_test,
    Delivery.created_at,
)


@contextmanager
def _bookkeeping():
    """A transaction of the worker's own records (claims, attempts, sent
    marks). On PostgreSQL it commits without waiting for the disk: a crash of
    the database server in the next fraction of a second could undo it, and
    a delivery would then be claimed, or sent, once more; delivery is at
    least once anyway. Events and ledger entries always wait for the disk."""
    with db.atomic():
        sql.commit_without_waiting_for_disk()
        yield


def claim_due(worker_id: str, limit: int, claim_seconds: int, now=None) -> list:
    """Claim up to ``limit`` due deliveries for ``worker_id``; returns them,
    oldest first, as named tuples (id, kind, setting_id, payload, attempts,
    is_test, created_at)."""
    now = now or clock.now()
    due = (
        Delivery.select(Delivery.id)
        .where(
            (Delivery.status == "pending")
            & (Delivery.next_attempt_at <= now)
            & (Delivery.claimed_until.is_null() | (Delivery.claimed_until < now))
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if is_postgres():
        due = due.for_update("FOR UPDATE SKIP LOCKED")
    token = f"{worker_id}:{uuid.uuid4().hex[:8]}"
    with _bookkeeping():
        # RETURNING hands back the claimed rows (SQLite has it since 3.35): looking them up again by
        # claimed_by would read the whole table, which has no index on it
        claimed = list(
            Delivery.update(claimed_by=token, claimed_until=now + timedelta(seconds=claim_seconds))
            .where(Delivery.id.in_(due))
            .returning(*_CLAIMED)
            .namedtuples()
            .execute()
        )
    return sorted(claimed, key=lambda delivery: delivery.id)


def release_claims(worker_id: str) -> int:
    """Give back every claim of a stopping worker so others can send at once."""
    return (
        Delivery.update(claimed_by=None, claimed_until=None)
        .where((Delivery.claimed_by.startswith(worker_id + ":")) & (Delivery.status == "pending"))
        .execute()
    )


def outgoing_batch(deliveries: list[Delivery]) -> list[OutgoingDelivery]:
    """What the plugin is handed for each delivery: its setting version's
    values, secrets decrypted, each version read once per batch."""
    ids = {delivery.setting_id for delivery in deliveries if delivery.setting_id is not None}
    values = (
        {
            version.id: setting_versions.decrypt_values(version.values)
            for version in SettingVersion.select().where(SettingVersion.id.in_(list(ids)))
        }
        if ids
        else {}
    )
    return [
        OutgoingDelivery(
            delivery.id,
            delivery.kind,
            delivery.payload,
            values.get(delivery.setting_id, {}),
            delivery.attempts,
            delivery.is_test,
            delivery.created_at,
        )
        for delivery in deliveries
    ]


class _Reporter:
    """The ``report`` callable a plugin's ``send_deliveries`` is given: results
    reported while the batch is still being sent are recorded at once by a
    thread of their own (those that arrive while it records go together in
    its next transaction), so a worker killed in the middle of a batch sends
    again only what was in flight, not the whole batch. Callable from any
    thread; a result for a delivery not in the batch, or reported twice, is
    ignored."""

    def __init__(self, deliveries: list, policy: RetryPolicy):
        self.by_id = {delivery.id: delivery for delivery in deliveries}
        self.policy = policy
        self.reported: dict[int, DeliveryResult] = {}
        self.recorded: set[int] = set()
        self._waiting: list[DeliveryResult] = []
        self._done = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="affnet-delivery-results", daemon=True)
        self._thread.start()

    def __call__(self, result: DeliveryResult) -> None:
        with self._wake:
            if result.delivery_id in self.by_id and result.delivery_id not in self.reported:
                self.reported[result.delivery_id] = result
                self._waiting.append(result)
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._waiting or self._done)
                group, self._waiting, done = self._waiting, [], self._done
            if group:
                try:
                    with db.connection_context():
                        record_results([(self.by_id[result.delivery_id], result) for result in group], self.policy)
                    self.recorded.update(result.delivery_id for result in group)
                except Exception:  # noqa: BLE001 - the worker records them with the rest of the batch
                    log.exception("recording %d delivery results failed; recorded after the batch", len(group))
            if done:
                return

    def close(self) -> set[int]:
        """Record what is still waiting; returns the ids recorded here."""
        with self._wake:
            self._done = True
            self._wake.notify()
        self._thread.join()
        return self.recorded


def send(pm, registry: KindRegistry, deliveries: list[Delivery], plugin_config, policy: RetryPolicy) -> dict:
    """Hand each kind its batch and record what happened (as the plugin
    reports each result, or when it returns); returns counts by outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "unowned": 0}
    by_kind: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_kind.setdefault(delivery.kind, []).append(delivery)
    for kind, batch in by_kind.items():
        owner = registry.owners.get(kind)
        results = None
        recorded: set[int] = set()
        if owner is not None:
            reporter = _Reporter(batch, policy)
            try:
                results = pm.hook.send_deliveries(
                    kind=kind, deliveries=outgoing_batch(batch), config=plugin_config(owner), report=reporter
                )
            except Exception as error:
                log.exception("plugin %s failed to send %s deliveries", owner, kind)
                results = [
                    DeliveryResult(d.id, "retry", error=f"plugin error: {error.__class__.__name__}") for d in batch
                ]
            finally:
                recorded = reporter.close()
            if results is not None or reporter.reported:
                results = [*reporter.reported.values(), *(results or [])]
        if results is None:
            # Nobody sends this kind now (its plugin was disabled): keep it, look again in an hour.
            Delivery.update(
                claimed_by=None,
                claimed_until=None,
                last_error=f"no enabled plugin sends {kind!r}",
                next_attempt_at=clock.now() + timedelta(hours=1),
            ).where(Delivery.id.in_([d.id for d in batch])).execute()
            counts["unowned"] += len(batch)
            continue
        answered: dict[int, DeliveryResult] = {}
        for result in results:  # what was reported first: that is what was recorded
            answered.setdefault(result.delivery_id, result)
        settled = []
        for delivery in batch:
            result = answered.get(delivery.id) or DeliveryResult(
                delivery.id, "retry", error="the plugin gave no result"
            )
            counts[result.outcome if result.outcome in counts else "retry"] += 1
            if delivery.id not in recorded:
                settled.append((delivery, result))
        record_results(settled, policy)
    return counts


def _settle(delivery: Delivery, result: DeliveryResult, policy: RetryPolicy, now) -> tuple[str, dict, dict]:
    """What one attempt does: (outcome, changes to the delivery, the attempt's row)."""
    attempts = delivery.attempts + 1
    outcome = result.outcome if result.outcome in ("sent", "retry", "failed") else "retry"
    if outcome == "retry" and (attempts >= policy.max_attempts or delivery.is_test):
        outcome = "failed"
    changes = {"attempts": attempts, "claimed_by": None, "claimed_until": None, "last_error": result.error[:1000]}
    if outcome == "sent":
        changes.update(status="sent", sent_at=now, last_error="")
    elif outcome == "failed":
        changes["status"] = "failed"
    else:
        wait = result.retry_after if result.retry_after else policy.delay(attempts)
        changes["next_attempt_at"] = now + timedelta(seconds=wait)
    attempt = {
        "delivery": delivery.id,
        "at": now,
        "outcome": outcome,
        "url": result.url[:2000],
        "status_code": result.status_code,
        "response_excerpt": (result.response_excerpt or "")[:EXCERPT],
        "error": (result.error or "")[:1000],
    }
    return outcome, changes, attempt


def record_result(delivery: Delivery, result: DeliveryResult, policy: RetryPolicy) -> None:
    """Log the attempt and move the delivery on: sent, retried later, or failed."""
    outcome, changes, attempt = _settle(delivery, result, policy, clock.now())
    with db.atomic():
        DeliveryAttempt.create(**attempt)
        Delivery.update(**changes).where(Delivery.id == delivery.id).execute()


def record_results(settled: list, policy: RetryPolicy) -> None:
    """``record_result`` for a whole batch of (delivery, result) in one
    transaction: the attempts in one insert, the sent deliveries in one
    update (per earlier attempt count), the others one by one. A per-delivery
    commit made the database, not the receivers, the limit of the worker."""
    now = clock.now()
    outcomes = [(delivery, *_settle(delivery, result, policy, now)) for delivery, result in settled]
    sent: dict[int, list[int]] = {}
    with _bookkeeping():
        for start in range(0, len(outcomes), 500):
            sql.insert_many(DeliveryAttempt, [attempt for _, _, _, attempt in outcomes[start : start + 500]])
        for delivery, outcome, changes, _ in outcomes:
            if outcome == "sent":
                sent.setdefault(changes["attempts"], []).append(delivery.id)
            else:
                Delivery.update(**changes).where(Delivery.id == delivery.id).execute()
        for attempts, ids in sent.items():
            sql.update_by_ids(
                Delivery,
                ids,
                status="sent",
                sent_at=now,
                last_error="",
                attempts=attempts,
                claimed_by=None,
                claimed_until=None,
            )


def resend(delivery: Delivery) -> None:
    """Send a delivery again soon, whatever its state (a hand-made retry)."""
    Delivery.update(status="pending", next_attempt_at=clock.now(), claimed_by=None, claimed_until=None).where(
        Delivery.id == delivery.id
    ).execute()


def send_due(
    pm, registry, worker_id: str, plugin_config, policy: RetryPolicy, limit: int = 200, claim_seconds: int = 300
) -> dict:
    """Claim one batch of due deliveries and send it; returns counts by outcome."""
    batch = claim_due(worker_id, limit, claim_seconds)
    if not batch:
        return {"claimed": 0}
    counts = send(pm, registry, batch, plugin_config, policy)
    counts["claimed"] = len(batch)
    return counts


def send_test(
    pm, registry: KindRegistry, plugin_config, kind_name: str, event_info, values: dict, setting_id: int | None = None
) -> Delivery:
    """Send one test delivery of ``kind_name`` at once with ``values`` (the
    settings being edited, secrets in clear, kept in memory only); the
    delivery and its attempt are logged, marked ``is_test``, never retried,
    and touch no money. ``event_info`` should have ``is_test=True``."""
    new = [
        delivery
        for batch in call_isolated(pm, "deliveries_for_event", event=event_info, settings={kind_name: values})
        for delivery in batch
        if delivery.kind == kind_name
    ]
    if not new:
        raise ValueError(f"no enabled plugin makes a test delivery of {kind_name!r}")
    now = clock.now()
    delivery = Delivery.create(
        event=None,
        kind=kind_name,
        setting=setting_id,
        payload=new[0].payload,
        is_test=True,
        next_attempt_at=now,
        created_at=now,
        claimed_by="test-send",
        claimed_until=now + timedelta(minutes=5),
    )
    owner = registry.owners.get(kind_name)
    outgoing_one = OutgoingDelivery(delivery.id, kind_name, delivery.payload, values, 0, True, now)
    try:
        results = pm.hook.send_deliveries(
            kind=kind_name, deliveries=[outgoing_one], config=plugin_config(owner), report=lambda result: None
        )
    except Exception as error:
        log.exception("plugin %s failed a test send", owner)
        results = [DeliveryResult(delivery.id, "failed", error=f"plugin error: {error.__class__.__name__}")]
    result = (results or [DeliveryResult(delivery.id, "failed", error="the plugin gave no result")])[0]
    record_result(delivery, result, RetryPolicy(max_attempts=1))
    return Delivery.get_by_id(delivery.id)


def deliveries_for_affiliate(
    affiliate_id: int | None = None, status: str | None = None, limit: int = 50, delivery_id: int | None = None
) -> list[Delivery]:
    """Newest first: the deliveries of an affiliate's events and of their test
    sends of saved settings (every delivery when ``affiliate_id`` is None)."""
    from peewee import JOIN
    from ..storage.models import Event, SettingVersion

    query = (
        Delivery.select(Delivery)
        .join(Event, JOIN.LEFT_OUTER, on=(Delivery.event == Event.id))
        .switch(Delivery)
        .join(SettingVersion, JOIN.LEFT_OUTER, on=(Delivery.setting == SettingVersion.id))
    )
    if affiliate_id is not None:
        query = query.where(
            (Event.affiliate == affiliate_id) | (Event.id.is_null() & (SettingVersion.affiliate == affiliate_id))
        )
    if status:
        query = query.where(Delivery.status == status)
    if delivery_id is not None:
        query = query.where(Delivery.id == delivery_id)
    return list(query.order_by(Delivery.id.desc()).limit(limit))


def attempts_of(delivery_ids) -> dict[int, list[DeliveryAttempt]]:
    """Each delivery's logged attempts, oldest first."""
    found: dict[int, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if found:
        for attempt in (
            DeliveryAttempt.select().where(DeliveryAttempt.delivery.in_(list(found))).order_by(DeliveryAttempt.id)
        ):
            found[attempt.delivery_id].append(attempt)
    return found
