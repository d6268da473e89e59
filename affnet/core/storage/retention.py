"""Data retention: anonymise old clicks, delete older ones, keep what money needs.

Two operator settings, both off (0) by default:

``retention.anonymize_after_days`` (N)
    A click older than N days loses its ``ip``, ``user_agent`` and
    ``referer`` (set to NULL), except a click whose conversion's commission
    is still *unsettled* (below): it keeps them, as the evidence of a fraud
    review, until the commission is settled, and is anonymised by the next
    run after that. The IP is cleared rather than cut to its /24 (/48)
    network: plugins read ``click.ip`` as the visitor's address (the Meta
    pixel sends it with a later rebill), and a network address would be sent
    as a wrong visitor, where an absent one is simply left out; and a cleared
    field is anonymous beyond argument, where a small ISP's /24 may not be.
    Sub ids, ``fbclid`` and ``clickid`` are the affiliate's tracking data
    and are kept.

``retention.delete_clicks_after_days`` (M)
    A click older than M days is deleted, unless an event points to it, or
    it is still inside its offer's cookie window (a conversion could still
    attribute to it: the effective age is the larger of M and the offer's
    cookie days). Clicks that events point to are kept for good (anonymised
    once N has passed): the event's row in the stats API, the postback of a
    later refund or chargeback (the affiliate's ``clickid`` and subs) and the
    lifetime attribution of rebills all read them. There is one such click
    per conversion, so this keeps the table small while keeping every
    event's click reference valid; an event in a hold or unpaid therefore
    never loses its click.

*Unsettled*, precisely: an event's ``commission`` ledger entry is unsettled
at a moment T while it is on hold (its ``available_at`` is after T), or
while it is unpaid: no ``payout`` ledger entry of the same affiliate and
currency, booked for a payout whose status is ``sent`` or ``completed``, has an
``available_at`` at or after the commission's ``available_at``. (A payout
run pays the whole payable balance of a currency, so a sent payout settles
every entry that was payable when it was booked.) A commission later
reversed in full still counts as unpaid until the affiliate's next sent
payout in that currency.

The work goes in bounded batches (``batch_size`` rows, one transaction
each) walking the clicks by id, so one run never holds many locks, and the
worker's job does at most ``time_budget`` seconds per call, continuing where
it stopped on the next call, so deliveries never wait long behind it.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import fn

from .. import clock
from .db import db
from .models import Click, Event, LedgerEntry, Offer, Payout

log = logging.getLogger("affnet.retention")
BATCH_SIZE = 1000


def _unsettled(entry, at: datetime):
    """The condition that the ledger entry ``entry`` (a LedgerEntry or an
    alias of it) is a commission on hold or unpaid at ``at``."""
    paid_entry = LedgerEntry.alias("paid_entry")
    payout = Payout.alias("paid_payout")
    paid = (
        paid_entry.select(paid_entry.id)
        .join(payout, on=(paid_entry.payout == payout.id))
        .where(
            (paid_entry.kind == "payout")
            & payout.status.in_(("sent", "completed"))
            & (paid_entry.affiliate == entry.affiliate)
            & (paid_entry.currency == entry.currency)
            & (paid_entry.available_at >= entry.available_at)
        )
    )
    return (entry.kind == "commission") & ((entry.available_at > at) | ~fn.EXISTS(paid))


def unsettled_commissions(at: datetime):
    """Commission ledger entries on hold or unpaid at ``at`` (see the module doc)."""
    return LedgerEntry.select().where(_unsettled(LedgerEntry, at))


def _click_of_unsettled_event(at: datetime):
    """True for a click (the outer query's) that an event with an unsettled commission points to."""
    event = Event.alias("held_event")
    commission = LedgerEntry.alias("held_commission")
    return fn.EXISTS(
        event.select(event.id)
        .join(commission, on=(commission.event == event.id))
        .where((event.click == Click.id) & _unsettled(commission, at))
    )


def _click_of_any_event():
    event = Event.alias("any_event")
    return fn.EXISTS(event.select(event.id).where(event.click == Click.id))


@dataclass
class _Step:
    """One walk over the clicks by id: a deletion for one offer, or the anonymisation."""

    action: str  # "delete" or "anonymise"
    cutoff: datetime
    at: datetime
    offer_id: int | None = None
    after_id: int = 0


@dataclass
class RetentionJob:
    """Applies the retention settings; ``run()`` is the worker's job.

    A pass is planned at most once per ``pass_every`` (a day) and done over
    as many calls as its ``time_budget`` needs (None: all in one call)."""

    anonymize_after_days: int
    delete_clicks_after_days: int
    batch_size: int = BATCH_SIZE
    time_budget: float | None = 20.0
    pass_every: timedelta = timedelta(days=1)
    _steps: list = field(default_factory=list)
    _next_pass_at: datetime | None = None

    @classmethod
    def from_settings(cls, settings, **options) -> "RetentionJob":
        return cls(
            settings["retention.anonymize_after_days"], settings["retention.delete_clicks_after_days"], **options
        )

    def run(self, now: datetime | None = None) -> dict:
        """Do (part of) the current pass; returns the rows deleted and anonymised by this call."""
        counts = {"deleted": 0, "anonymised": 0}
        if not (self.anonymize_after_days or self.delete_clicks_after_days):
            return counts
        now = now or clock.now()
        if not self._steps:
            if self._next_pass_at is not None and now < self._next_pass_at:
                return counts
            self._steps = self._plan(now)
            self._next_pass_at = now + self.pass_every
        deadline = None if self.time_budget is None else time.monotonic() + self.time_budget
        while self._steps:
            step = self._steps[0]
            done, finished = self._batch(step)
            counts["deleted" if step.action == "delete" else "anonymised"] += done
            if finished:
                self._steps.pop(0)
            if deadline is not None and time.monotonic() > deadline:
                break
        if counts["deleted"] or counts["anonymised"]:
            log.info(
                "retention deleted=%d anonymised=%d%s",
                counts["deleted"],
                counts["anonymised"],
                " (continues next run)" if self._steps else "",
            )
        return counts

    def _plan(self, now: datetime) -> list[_Step]:
        steps = []
        if self.delete_clicks_after_days:
            for offer_id, cookie_days in Offer.select(Offer.id, Offer.cookie_days).order_by(Offer.id).tuples():
                days = max(self.delete_clicks_after_days, cookie_days)
                steps.append(_Step("delete", now - timedelta(days=days), now, offer_id))
        if self.anonymize_after_days:
            steps.append(_Step("anonymise", now - timedelta(days=self.anonymize_after_days), now))
        return steps

    def _batch(self, step: _Step) -> tuple[int, bool]:
        """One batch of a step; returns (rows changed, whether the step is done)."""
        if step.action == "delete":
            found = Click.select(Click.id).where(
                (Click.offer == step.offer_id)
                & (Click.id > step.after_id)
                & (Click.created_at < step.cutoff)
                & ~_click_of_any_event()
            )
        else:
            found = Click.select(Click.id).where(
                (Click.id > step.after_id)
                & (Click.created_at < step.cutoff)
                & (Click.ip.is_null(False) | Click.user_agent.is_null(False) | Click.referer.is_null(False))
                & ~_click_of_unsettled_event(step.at)
            )
        ids = [row_id for (row_id,) in found.order_by(Click.id).limit(self.batch_size).tuples()]
        if not ids:
            return 0, True
        with db.atomic():
            if step.action == "delete":
                # Checked again in the statement itself: an event written since the select keeps its click.
                done = Click.delete().where(Click.id.in_(ids) & ~_click_of_any_event()).execute()
            else:
                done = Click.update(ip=None, user_agent=None, referer=None).where(Click.id.in_(ids)).execute()
        step.after_id = ids[-1]
        return done, len(ids) < self.batch_size


def apply_retention(settings, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """One whole pass now (for scripts and tests); returns rows deleted and anonymised."""
    return RetentionJob.from_settings(settings, batch_size=batch_size, time_budget=None).run(now)
