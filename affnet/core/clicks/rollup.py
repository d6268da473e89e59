"""The click rollup: clicks counted per affiliate, offer and 15-minute slot.

Reports grouped by day, offer or affiliate (the dashboards, the stats pages,
the report API) count clicks from ``click_rollup`` for every slot it holds
and from ``click`` itself after it, so a month of a busy affiliate's clicks
is a few thousand rows to add up instead of a million. Reports grouped by a
sub id or a click id read the clicks: those values are not rolled up.

Slots are 15 minutes long and begin at :00, :15, :30 and :45 UTC. Every time
zone's offset from UTC is a whole number of quarter hours, so a local day
(and the moment its offset changes) begins at a slot's start: a slot never
straddles two local days, whatever the report's time zone.

The mark (``RollupMark`` named ``clicks``) says how far the rollup is
complete: every click before ``until`` is counted in ``click_rollup``, none
after. The worker moves it forward every minute (``advance``), up to the
start of the slot that ended ``SEAL_AFTER`` ago: a click reaches the
database a moment after it happened (the spool), and the machines of a
cluster disagree a little on the time. A click written later than that into
a slot already counted (a spool file loaded after the database was down for
a while, demo data) moves the mark back to its slot and deletes the rollup
rows from there, in the transaction that writes the click (``reopen``); the
next rounds count them again. So a report is exact whatever the worker
does; only its speed depends on the worker having run.

The rollup is never pruned: after retention deletes old clicks, reports by
day, offer or affiliate keep counting them; reports by sub id count the
clicks that are left.
"""

import time
from datetime import datetime, timedelta

from peewee import SQL, Case, fn

from .. import clock
from ..storage.db import db, is_postgres
from ..storage.models import Click, ClickRollup, RollupMark

SLOT = timedelta(minutes=15)
SEAL_AFTER = timedelta(minutes=10)
STEP = timedelta(hours=6)  # clicks counted per transaction
MARK = "clicks"


def slot_of(moment: datetime) -> datetime:
    """The start of ``moment``'s 15-minute slot."""
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def rolled_up_until() -> datetime | None:
    """Every click before this moment is counted in ``click_rollup`` (None: no click is)."""
    return RollupMark.select(RollupMark.until).where(RollupMark.name == MARK).scalar()


def _lock_mark() -> datetime | None:
    """Lock the mark for this transaction (a row lock on PostgreSQL, the write lock on SQLite) and read it."""
    if not RollupMark.update(name=RollupMark.name).where(RollupMark.name == MARK).execute():
        RollupMark.insert(name=MARK, until=None).on_conflict_ignore().execute()
        RollupMark.update(name=RollupMark.name).where(RollupMark.name == MARK).execute()
    return rolled_up_until()


def _set_mark(until: datetime) -> None:
    RollupMark.update(until=until).where(RollupMark.name == MARK).execute()


def _slot_expression():
    if is_postgres():
        return SQL(
            "date_trunc('hour', created_at) + (extract(minute from created_at)::int / 15) * interval '15 minutes'"
        )
    return SQL(
        "strftime('%Y-%m-%d %H:', created_at) || printf('%02d:00', CAST(strftime('%M', created_at) AS INTEGER) / 15 * 15)"
    )


def _count(since: datetime, until: datetime) -> None:
    query = (
        Click.select(
            Click.affiliate,
            Click.offer,
            _slot_expression(),
            fn.COUNT(SQL("*")),
            fn.SUM(Case(None, [((Click.is_unique == True) & (Click.is_bot == False), 1)], 0)),
            fn.SUM(Case(None, [(Click.is_bot == True, 1)], 0)),
        )
        .where((Click.created_at >= since) & (Click.created_at < until))
        .group_by(SQL("1"), SQL("2"), SQL("3"))
    )
    fields = [
        ClickRollup.affiliate,
        ClickRollup.offer,
        ClickRollup.bucket,
        ClickRollup.clicks,
        ClickRollup.unique_clicks,
        ClickRollup.bot_clicks,
    ]
    ClickRollup.insert_from(query, fields).execute()


def advance(now: datetime | None = None, budget_seconds: float = 20.0) -> datetime | None:
    """Count the complete slots not counted yet, ``STEP`` at a time, each in
    its own transaction, for at most about ``budget_seconds``; returns the
    mark. Several workers may run it at once: the mark's lock lets one count
    a step, and the other finds it counted."""
    target = slot_of((now or clock.now()) - SEAL_AFTER)
    began = time.monotonic()
    while True:
        with db.atomic():
            until = _lock_mark()
            if until is not None and until >= target:
                return until
            since = until
            first = Click.select(fn.MIN(Click.created_at))
            if since is not None:
                first = first.where(Click.created_at >= since)
            earliest = first.scalar()
            if earliest is None or earliest >= target:
                _set_mark(target)  # no click to count up to the target
                return target
            since = slot_of(earliest)  # nothing between the mark and the next click: skip the empty slots
            stop = min(target, since + STEP)
            _count(since, stop)
            _set_mark(stop)
        if stop >= target or time.monotonic() - began > budget_seconds:
            return stop


def reopen(earliest: datetime) -> None:
    """Clicks as old as ``earliest`` were just written: if their slot is
    counted already, move the mark back to it and drop the rollup rows from
    there. Call it in the transaction that writes the clicks."""
    if earliest >= clock.now() - SEAL_AFTER / 2:
        return  # a slot this recent is never counted yet (half the margin is left for clocks that differ)
    until = _lock_mark()
    slot = slot_of(earliest)
    if until is not None and slot < until:
        ClickRollup.delete().where(ClickRollup.bucket >= slot).execute()
        _set_mark(slot)
