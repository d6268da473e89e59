"""The network's health, as the operator's home page shows it: the database, the schema, the worker's
heartbeat, this server's click spool, the oldest undelivered delivery and this week's payout run. Each
check says what it measured, the threshold it holds that to, and whether all is well.

The worker writes its heartbeat (``beat``) at most every ``BEAT_SECONDS``; a worker whose last beat is
older than ``HEARTBEAT_STALE_SECONDS`` is not working (stopped, stuck, or cut off from the database).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import clock
from .earnings import payouts
from .storage import migrations
from .storage.db import DATABASE_ERRORS, db, is_postgres
from .storage.models import Delivery, Payout, PayoutRun, WorkerHeartbeat

BEAT_SECONDS = 10
HEARTBEAT_STALE_SECONDS = 60
FORGET_WORKERS_AFTER = timedelta(days=7)
SPOOL_BACKLOG_LINES = 10_000  # clicks waiting in this server's spool files: more means the loading lags
UNDELIVERED_AGE_SECONDS = 3600  # the oldest delivery still waiting to be sent


@dataclass
class Check:
    name: str  # database, schema, worker, spool, deliveries, payouts
    ok: bool
    facts: dict = field(default_factory=dict)  # what was measured, and the threshold


def beat(worker_id: str, started_at: datetime, now=None) -> None:
    """Record that ``worker_id`` is alive now; workers silent for ``FORGET_WORKERS_AFTER`` are forgotten."""
    now = now or clock.now()
    WorkerHeartbeat.insert(worker=worker_id, started_at=started_at, beat_at=now).on_conflict(
        conflict_target=[WorkerHeartbeat.worker], update={WorkerHeartbeat.beat_at: now}
    ).execute()
    WorkerHeartbeat.delete().where(WorkerHeartbeat.beat_at < now - FORGET_WORKERS_AFTER).execute()


def database_check(database_url: str) -> Check:
    from ..config import masked_url

    facts = {"kind": "PostgreSQL" if is_postgres() else "SQLite", "url": masked_url(database_url)}
    try:
        db.execute_sql("SELECT 1")
    except DATABASE_ERRORS as error:
        return Check("database", False, {**facts, "error": error.__class__.__name__})
    return Check("database", True, facts)


def schema_check() -> Check:
    version = migrations.current_version()
    return Check("schema", version == migrations.LATEST, {"version": version, "latest": migrations.LATEST})


def worker_check(now=None) -> Check:
    now = now or clock.now()
    workers = list(WorkerHeartbeat.select().order_by(WorkerHeartbeat.beat_at.desc()).limit(20))
    last = workers[0].beat_at if workers else None
    age = (now - last).total_seconds() if last else None
    alive = [w for w in workers if (now - w.beat_at).total_seconds() <= HEARTBEAT_STALE_SECONDS]
    return Check(
        "worker",
        age is not None and age <= HEARTBEAT_STALE_SECONDS,
        {
            "last_beat_at": last,
            "age_seconds": int(age) if age is not None else None,
            "threshold_seconds": HEARTBEAT_STALE_SECONDS,
            "alive": len(alive),
            "workers": workers,
        },
    )


def spool_check(spool) -> Check:
    states = spool.status()
    waiting = sum(states[state]["lines"] for state in ("open", "ready", "claimed", "orphaned"))
    quarantined = states["quarantined"]["lines"]
    return Check(
        "spool",
        waiting <= SPOOL_BACKLOG_LINES and quarantined == 0,
        {"waiting": waiting, "quarantined": quarantined, "threshold_lines": SPOOL_BACKLOG_LINES, "states": states},
    )


def deliveries_check(now=None) -> Check:
    """The oldest delivery (postback or pixel event) still waiting to be sent, test sends left out."""
    now = now or clock.now()
    oldest = (
        Delivery.select(Delivery.id, Delivery.kind, Delivery.created_at, Delivery.attempts, Delivery.last_error)
        .where((Delivery.status == "pending") & (~Delivery.is_test))
        .order_by(Delivery.id)
        .first()
    )
    age = (now - oldest.created_at).total_seconds() if oldest else 0
    return Check(
        "deliveries",
        age <= UNDELIVERED_AGE_SECONDS,
        {"oldest": oldest, "age_seconds": int(age), "threshold_seconds": UNDELIVERED_AGE_SECONDS},
    )


def payouts_check(settings, now=None, local_now=None) -> Check:
    """This ISO week's payout run: made, or due and missing; its payouts by state. The schedule is in the
    server's time, as the worker reads it."""
    now = now or clock.now()
    local_now = local_now or datetime.now()
    week = payouts.week_of(now)
    run = PayoutRun.get_or_none(PayoutRun.week == week)
    next_at = payouts.next_run_at(settings, local_now)
    week_start = (local_now - timedelta(days=local_now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    # a run that was due this week and is missing, once the network has made runs before (a new network's
    # first week is not a fault)
    due = next_at - timedelta(days=7) >= week_start
    missed = run is None and due and PayoutRun.select().where(PayoutRun.week < week).exists()
    states: dict[str, int] = {}
    if run is not None:
        for (status,) in Payout.select(Payout.status).where(Payout.run == run.id).tuples():
            states[status] = states.get(status, 0) + 1
    return Check(
        "payouts",
        not missed and not states.get("failed"),
        {"week": week, "run": run, "missed": missed, "next_at": next_at, "states": states},
    )


def checks(services, now=None) -> list[Check]:
    settings = services.settings
    found = [database_check(settings.database_url)]
    if not found[0].ok:
        return found
    return found + [
        schema_check(),
        worker_check(now),
        spool_check(services.spool),
        deliveries_check(now),
        payouts_check(settings, now),
    ]
