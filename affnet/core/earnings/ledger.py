"""The ledger: append-only entries, holds, and balances per currency.

A commission becomes payable when its hold ends (the event time plus the
offer's hold days); a reversal or a payout counts at once. An entry is never
edited: a correction is a new entry.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from peewee import fn

from .. import clock
from ..storage.models import REVERSAL_KINDS, Event, LedgerEntry, Offer, Payout
from .money import from_units


def entry_for(event: Event, offer: Offer) -> LedgerEntry | None:
    """The (unsaved) entry that books an event's payout, or None when it
    earns nothing: a commission, payable when the offer's hold ends; a
    reversal (refund, chargeback), negative and counted at once. The ingest
    path inserts it with the event's other rows."""
    if not event.attributed or not event.payout:
        return None
    reversal = event.kind in REVERSAL_KINDS
    return LedgerEntry(
        event=event.id,
        affiliate=event.affiliate_id,
        currency=event.payout_currency,
        amount=event.payout,
        kind="reversal" if reversal else "commission",
        memo=f"{event.kind} {event.txid}",
        available_at=event.occurred_at if reversal else event.occurred_at + timedelta(days=offer.hold_days),
        created_at=event.occurred_at,
    )


def balances(affiliate_id: int, at=None) -> dict[str, dict[str, Decimal]]:
    """Per currency, at ``at`` (default now):

    - ``balance``: every entry (what the affiliate is owed, all told);
    - ``payable``: entries whose ``available_at`` has passed: commissions past
      their hold, reversals at once, payouts (negative) and cancelled
      payouts given back at once. It may be negative: a reversal after a
      payout is settled by later earnings first;
    - ``pending``: commissions still inside their hold;
    - ``in_payout``: payouts made and not completed or cancelled;
    - ``paid``: payouts completed.
    """
    at = at or clock.now()
    zero = Decimal(0)
    result: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"balance": zero, "payable": zero, "pending": zero, "in_payout": zero, "paid": zero}
    )
    rows = (
        LedgerEntry.select(
            LedgerEntry.currency,
            fn.SUM(LedgerEntry.amount).alias("balance"),
            fn.SUM(LedgerEntry.amount).filter(LedgerEntry.available_at <= at).alias("payable"),
            fn.SUM(LedgerEntry.amount)
            .filter((LedgerEntry.available_at > at) & (LedgerEntry.kind == "commission"))
            .alias("pending"),
        )
        .where(LedgerEntry.affiliate == affiliate_id)
        .group_by(LedgerEntry.currency)
        .tuples()
    )
    for currency, balance, payable, pending in rows:
        result[currency].update(balance=from_units(balance), payable=from_units(payable), pending=from_units(pending))
    payouts = (
        Payout.select(Payout.currency, Payout.status, fn.SUM(Payout.amount).coerce(False))
        .where((Payout.affiliate == affiliate_id) & (Payout.status != "cancelled"))
        .group_by(Payout.currency, Payout.status)
        .tuples()
    )
    for currency, status, units in payouts:
        key = "paid" if status == "completed" else "in_payout"
        result[currency][key] += from_units(units)
    return dict(result)
