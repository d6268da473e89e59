"""What an event pays the affiliate, from the offer's commission rules.

A ``fixed`` rule pays its amount in the offer's currency; a ``percent`` rule
pays that share of the gross amount, in the gross amount's currency. Both are
rounded half-up to the currency's minor unit. A rebill rule with
``rebill_months`` pays only within that many calendar months of the
customer's first attributed payment on the offer.
"""

import calendar
from datetime import datetime
from decimal import Decimal

from ..storage.cache import TTLCache
from ..storage.models import CommissionRule, Event, Offer
from .money import round_money


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _within_rebill_months(rule: CommissionRule, offer: Offer, user_ref: str | None, at) -> bool:
    if rule.rebill_months is None or not user_ref:
        return True
    first = (
        Event.select(Event.occurred_at)
        .where(
            (Event.offer == offer.id)
            & (Event.user_ref == user_ref)
            & Event.attributed
            & Event.kind.in_(("sale", "rebill"))
        )
        .order_by(Event.occurred_at)
        .first()
    )
    return first is None or at < add_months(first.occurred_at, rule.rebill_months)


rules = TTLCache(5)


def rules_of(offer_id: int) -> dict[str, CommissionRule]:
    """The offer's rules by event (kept in memory for 5 s)."""
    return rules.get(
        offer_id, lambda: {rule.event: rule for rule in CommissionRule.select().where(CommissionRule.offer == offer_id)}
    )


def commission_for(
    offer: Offer, kind: str, gross: Decimal | None, currency: str | None, user_ref: str | None, at
) -> tuple[Decimal, str]:
    """(amount, currency) earned by an attributed event of ``kind``."""
    rule = rules_of(offer.id).get(kind)
    if rule is None:
        return Decimal(0), offer.currency
    if kind == "rebill" and not _within_rebill_months(rule, offer, user_ref, at):
        return Decimal(0), offer.currency
    if rule.kind == "fixed":
        return round_money(rule.amount, offer.currency), offer.currency
    currency = currency or offer.currency
    return round_money((gross or Decimal(0)) * rule.amount / 100, currency), currency


def reversal_share(
    original: Event, amount: Decimal | None, already_reversed: Decimal, already_refunded: Decimal = Decimal(0)
) -> Decimal:
    """How much of the original commission a refund of ``amount`` reverses:
    its share, rounded; all that is left when no amount is given or when the
    refunds now reach the whole gross amount (so rounding leaves no cent
    behind); never more than is left."""
    left = original.payout - already_reversed
    if amount is None or not original.gross_amount or already_refunded + amount >= original.gross_amount:
        share = left
    else:
        share = round_money(
            original.payout * min(amount, original.gross_amount) / original.gross_amount, original.payout_currency
        )
    return max(Decimal(0), min(share, left))
