"""An event: validate, deduplicate, attribute, price, book, enqueue.

``parse_conversion`` and ``parse_reversal`` turn a request body into a
checked value or raise ``IngestError`` with a reason per field, writing
nothing. ``record_conversion`` and ``record_reversal`` then write the event,
its ledger entry and its deliveries in ONE transaction. The unique index on
(offer, dedup_key) is the idempotency guard: a repeat, even one racing on
another server, fails that index and answers the first event.

A test conversion (``"test": true`` in the body, or the owner's test form)
goes through the same parsing, attribution, pricing and answer, and is
stored marked ``is_test`` under a dedup key of its own (``test:`` before the
real key), so it never takes a real payment's place. It books nothing: no
ledger entry, no delivery, no plugin hears of it, a refund waiting for the
payment id is left for the real payment, and reports leave it out.
"""

import logging
import re
import secrets as _random
from dataclasses import dataclass
from decimal import Decimal

from peewee import IntegrityError, fn

from .. import clock
from ..earnings import commissions, ledger
from ..deliveries import outbox
from ..storage import sql
from .attribution import Attribution, attribute
from ..clicks.tracking import ad_click_ids
from ..storage.db import db
from ...plugins.types import ClickInfo, EventInfo, OfferInfo
from ..storage.models import CONVERSION_KINDS, REVERSAL_KINDS, STATUS_OF_EVENT, Event, Offer
from ..earnings.money import MoneyError, format_amount, from_units, parse_amount, parse_currency, round_money
from ...plugins.manager import call_isolated

log = logging.getLogger("affnet.ingest")
_TEXT_LIMIT = 255
# A lone surrogate (JSON allows "\ud800") cannot be stored as UTF-8 by either database; PostgreSQL
# refuses a NUL in text; control characters (C0, DEL, C1) have no place in an id and would reach
# logs, CSV exports and postback URLs.
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class IngestError(ValueError):
    """A body that cannot be recorded; ``fields`` maps a field to its fault."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Conversion:
    kind: str
    click_id: str | None
    user_ref: str | None
    external_payment_id: str | None
    gross_amount: Decimal | None
    currency: str | None
    is_first_payment: bool
    is_test: bool = False


@dataclass(frozen=True)
class Reversal:
    kind: str
    external_payment_id: str
    amount: Decimal | None
    refund_id: str | None


@dataclass(frozen=True)
class Outcome:
    """The answer to an ingest call: HTTP status, JSON body, the event row."""

    http_status: int
    body: dict
    event: Event


def _text(body, name, faults, required=False):
    """The field as stripped text, or None (with ``faults[name]`` set when it
    is wrong). Every text an ingest call stores passes here, so one check
    keeps out what a database would refuse or a log line would be forged
    with: text must be valid Unicode without control characters."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            faults[name] = "is required"
        return None
    if not isinstance(value, str):
        faults[name] = "must be a string"
        return None
    value = value.strip()  # also takes separators (\x1c-\x1f, \x85, \u2028): what is left may be nothing
    if not value:
        if required:
            faults[name] = "is required"
        return None
    if _NOT_TEXT.search(value):
        faults[name] = "must be valid Unicode text without control characters"
        return None
    if len(value) > _TEXT_LIMIT:
        faults[name] = f"must be at most {_TEXT_LIMIT} characters"
        return None
    return value


def _check_known(body, allowed, faults):
    for name in body:
        if name not in allowed:
            faults[name] = "is not a field of this call"


_CONVERSION_FIELDS = frozenset(
    ("click_id", "user_ref", "event", "external_payment_id", "gross_amount", "currency", "is_first_payment", "test")
)


def parse_conversion(body, offer: Offer) -> Conversion:
    if not isinstance(body, dict):
        raise IngestError("the body must be a JSON object")
    faults: dict[str, str] = {}
    _check_known(body, _CONVERSION_FIELDS, faults)
    kind = body.get("event")
    if kind not in CONVERSION_KINDS:
        faults["event"] = "must be one of " + ", ".join(CONVERSION_KINDS)
    click_id = _text(body, "click_id", faults)
    user_ref = _text(body, "user_ref", faults)
    paid = kind in ("sale", "rebill")
    payment_id = _text(body, "external_payment_id", faults, required=paid)
    gross = currency = None
    if body.get("gross_amount") is not None:
        try:
            gross = parse_amount(body["gross_amount"])
        except MoneyError as error:
            faults["gross_amount"] = str(error)
    elif paid:
        faults["gross_amount"] = "is required for a sale or rebill"
    if body.get("currency") is not None:
        try:
            currency = parse_currency(body["currency"])
        except MoneyError as error:
            faults["currency"] = str(error)
    first = body.get("is_first_payment", kind == "sale")
    if not isinstance(first, bool):
        faults["is_first_payment"] = "must be true or false"
    test = body.get("test", False)
    if test is not False and test is not True:
        faults["test"] = "must be true or false"
    if kind in ("lead", "trial") and not (payment_id or user_ref or click_id) and "event" not in faults:
        faults["user_ref"] = "a lead or trial needs a user_ref, a click_id or an external_payment_id"
    if faults:
        raise IngestError("invalid conversion", faults)
    if gross is not None and currency is None:
        currency = offer.currency
    return Conversion(kind, click_id, user_ref, payment_id, gross, currency, bool(first), test is True)


def parse_reversal(kind: str, body) -> Reversal:
    if not isinstance(body, dict):
        raise IngestError("the body must be a JSON object")
    faults: dict[str, str] = {}
    _check_known(body, {"external_payment_id", "amount", "refund_id"}, faults)
    payment_id = _text(body, "external_payment_id", faults, required=True)
    refund_id = _text(body, "refund_id", faults)
    amount = None
    if body.get("amount") is not None:
        try:
            amount = parse_amount(body["amount"])
            if amount == 0:
                faults["amount"] = "must be more than 0"
        except MoneyError as error:
            faults["amount"] = str(error)
    if faults:
        raise IngestError(f"invalid {kind}", faults)
    return Reversal(kind, payment_id, amount, refund_id)


def parse_call(call: str, body, offer: Offer) -> "Conversion | Reversal":
    """The checked value of one ingest call (``conversion``, ``refund`` or
    ``chargeback``) and its JSON body; raises IngestError, writing nothing."""
    if call == "conversion":
        return parse_conversion(body, offer)
    return parse_reversal(call, body)


def _txid() -> str:
    return "tx_" + _random.token_urlsafe(12)


TEST_KEY_PREFIX = "test:"


def conversion_key(conversion: Conversion) -> str:
    """The idempotency key of a conversion on its offer; a test's has ``TEST_KEY_PREFIX`` in front, so a test
    and a real event of the same payment are two events (and refunds, found by ``pay:<id>``, only ever find
    the real one)."""
    if conversion.external_payment_id:
        key = "pay:" + conversion.external_payment_id
    elif conversion.user_ref:
        key = f"{conversion.kind}:user:{conversion.user_ref}"
    else:
        key = f"{conversion.kind}:click:{conversion.click_id}"
    return TEST_KEY_PREFIX + key if conversion.is_test else key


def reversal_key(reversal: Reversal) -> str:
    return f"{reversal.kind}:{reversal.external_payment_id}:{reversal.refund_id or ''}"


def _claim_pending(reversal_id: int) -> bool:
    """Take a pending reversal for applying; only one transaction ever wins it."""
    return bool(Event.update(pending=False).where((Event.id == reversal_id) & (Event.pending == True)).execute())


def answer(event: Event, duplicate: bool) -> dict:
    body = {
        "txid": event.txid,
        "event": event.kind,
        "status": event.status,
        "attributed": event.attributed,
        "payout": format_amount(event.payout, event.payout_currency),
        "currency": event.payout_currency,
        "duplicate": duplicate,
    }
    if event.kind in REVERSAL_KINDS:
        body["pending"] = event.pending
        body["reverses"] = event.reverses.txid if event.reverses_id else None
    if event.is_test:
        body["test"] = True
    return body


def event_info(event: Event, offer: Offer, is_test: bool = False) -> EventInfo:
    click = event.click if event.click_id else None
    return EventInfo(
        txid=event.txid,
        kind=event.kind,
        status=event.status,
        occurred_at=event.occurred_at,
        offer=OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency),
        attributed=event.attributed,
        affiliate_id=event.affiliate_id,
        participation_id=event.participation_id,
        ref_code=event.participation.ref_code if event.participation_id else None,
        payout=round_money(event.payout, event.payout_currency),
        payout_currency=event.payout_currency,
        gross_amount=round_money(event.gross_amount, event.currency or offer.currency)
        if event.gross_amount is not None
        else None,
        currency=event.currency,
        user_ref=event.user_ref,
        external_payment_id=event.external_payment_id,
        is_first_payment=event.is_first_payment,
        click=ClickInfo(
            click.click_id,
            click.created_at,
            click.clickid,
            click.fbclid,
            click.ip,
            click.user_agent,
            click.subs(),
            ad_click_ids(click.ad_click_ids),
        )
        if click
        else None,
        is_test=is_test,
    )


class Recorder:
    """Records events for one set of plugins; the web app keeps one."""

    def __init__(self, pm, registry: outbox.KindRegistry | None = None, spool=None):
        self.pm = pm
        self.registry = registry or outbox.KindRegistry.from_plugins(pm)
        self.spool = spool

    def record(self, offer: Offer, call: "Conversion | Reversal", source: str = "api", now=None) -> Outcome:
        """Record a parsed call (``parse_call``): what the ingest API and
        every ingest source (the Stripe webhook) do with what they received."""
        if isinstance(call, Reversal):
            return self.reversal(offer, call, source, now)
        return self.conversion(offer, call, source, now)

    def conversion(
        self,
        offer: Offer,
        conversion: Conversion,
        source: str = "api",
        now=None,
        attribution: Attribution | None = None,
    ) -> Outcome:
        """Record a conversion. Everything is worked out first (attribution
        and prices read only); then the event, its ledger entry and its
        deliveries are inserted at once (``sql.insert_event``). A test
        conversion (``conversion.is_test``) is stored and priced, never booked
        (``_record_test``); only a test may name its ``attribution`` (the
        owner's test form picks an affiliate) instead of having it found."""
        now = now or clock.now()
        key = conversion_key(conversion)
        if conversion.is_test:
            return self._record_test(offer, conversion, key, source, now, attribution)
        if attribution is not None:
            raise ValueError("only a test conversion is attributed by hand")
        event = self._priced(offer, conversion, key, source, now, self._attribute(offer, conversion, now))
        info, rows = self._book(event, offer)
        inserted, reversals_waiting = sql.insert_event(event, rows)
        if not inserted:
            return self._duplicate(offer, key)
        notify = [info]
        if reversals_waiting:
            with db.atomic():
                notify.extend(self._apply_waiting_reversals(offer, event, now))
        self._notify(notify)
        return Outcome(201, answer(event, False), event)

    def _attribute(self, offer: Offer, conversion: Conversion, now) -> Attribution:
        return attribute(
            offer,
            conversion.click_id,
            conversion.user_ref,
            now,
            load_clicks=self.spool.load_click if self.spool is not None else None,
        )

    def _priced(self, offer: Offer, conversion: Conversion, key: str, source: str, now, found: Attribution) -> Event:
        """The (unsaved) event of a conversion, with what it earns its affiliate."""
        payout, payout_currency = Decimal(0), offer.currency
        if found.attributed:
            payout, payout_currency = commissions.commission_for(
                offer, conversion.kind, conversion.gross_amount, conversion.currency, conversion.user_ref, now
            )
        event = Event(
            txid=_txid(),
            offer=offer,
            kind=conversion.kind,
            status=STATUS_OF_EVENT[conversion.kind],
            dedup_key=key,
            participation=found.participation,
            click=found.click,
            affiliate=found.participation.affiliate_id if found.attributed else None,
            attributed=found.attributed,
            user_ref=conversion.user_ref,
            external_payment_id=conversion.external_payment_id,
            gross_amount=conversion.gross_amount,
            currency=conversion.currency,
            payout=payout,
            payout_currency=payout_currency,
            is_first_payment=conversion.is_first_payment,
            source=source,
            is_test=conversion.is_test,
            occurred_at=now,
        )
        return event

    def _record_test(
        self, offer: Offer, conversion: Conversion, key: str, source: str, now, attribution: Attribution | None
    ) -> Outcome:
        """A test conversion: attributed (or attributed as asked) and priced like a real one and stored
        with ``is_test``, with no ledger entry and no delivery; no plugin hears of it, and a refund waiting
        for a payment of the same id stays waiting for the real one. Its ``user_ref`` is not kept: a later
        real event looks the customer's earlier events up by it (lifetime attribution, rebill months),
        and a test must never shape a real event."""
        found = attribution if attribution is not None else self._attribute(offer, conversion, now)
        event = self._priced(offer, conversion, key, source, now, found)
        event.user_ref = None
        inserted, _ = sql.insert_event(event, [])
        if not inserted:
            return self._duplicate(offer, key)
        return Outcome(201, answer(event, False), event)

    def reversal(self, offer: Offer, reversal: Reversal, source: str = "api", now=None) -> Outcome:
        now = now or clock.now()
        key = reversal_key(reversal)
        notify = []
        try:
            with db.atomic():
                original = self._payment(offer, reversal.external_payment_id)
                event = sql.create(
                    Event,
                    txid=_txid(),
                    offer=offer,
                    kind=reversal.kind,
                    status=STATUS_OF_EVENT[reversal.kind],
                    dedup_key=key,
                    external_payment_id=reversal.external_payment_id,
                    refund_id=reversal.refund_id,
                    gross_amount=reversal.amount,
                    currency=None,
                    payout=Decimal(0),
                    payout_currency=offer.currency,
                    pending=original is None,
                    source=source,
                    occurred_at=now,
                )
                if original is not None:
                    notify.append(self._reverse(offer, original, event))
        except IntegrityError:
            return self._duplicate(offer, key)
        self._notify(notify)
        return Outcome(202 if event.pending else 201, answer(event, False), event)

    def _payment(self, offer: Offer, payment_id: str) -> Event | None:
        return Event.get_or_none((Event.offer == offer.id) & (Event.dedup_key == "pay:" + payment_id))

    def _reverse(self, offer: Offer, original: Event, event: Event) -> EventInfo:
        """Turn a reversal row into the reversal of ``original`` (same transaction)."""
        reversed_units, refunded_units = (
            Event.select(fn.COALESCE(fn.SUM(Event.payout), 0), fn.COALESCE(fn.SUM(Event.gross_amount), 0))
            .where((Event.reverses == original.id) & (Event.id != event.id))
            .tuples()
            .get()
        )
        share = commissions.reversal_share(
            original, event.gross_amount, -from_units(reversed_units), from_units(refunded_units)
        )
        event.reverses = original
        event.pending = False
        event.participation = original.participation_id
        event.affiliate = original.affiliate_id
        event.click = original.click_id
        event.attributed = original.attributed
        event.user_ref = original.user_ref
        event.currency = original.currency
        event.payout = -share
        event.payout_currency = original.payout_currency
        event.save()
        info, rows = self._book(event, offer)
        sql.insert_children(event, rows)
        return info

    def _book(self, event: Event, offer: Offer) -> tuple[EventInfo, list]:
        """How every event is booked, whatever its kind: the event as plugins
        see it, and its rows, unsaved: the ledger entry of its payout (a
        commission, or a reversal's negative entry) and the deliveries the
        plugins ask for. The caller writes them with the event."""
        info = event_info(event, offer)
        entry = ledger.entry_for(event, offer)
        return info, ([entry] if entry else []) + outbox.deliveries_for(self.pm, self.registry, info)

    def _apply_waiting_reversals(self, offer: Offer, payment: Event, now) -> list[EventInfo]:
        waiting = sql.fetch(
            "ingest.waiting_reversals",
            lambda: (
                Event.select(Event.id)
                .where(
                    (Event.offer == offer.id)
                    & (Event.external_payment_id == payment.external_payment_id)
                    & (Event.pending == True)
                )
                .order_by(Event.id)
            ),
            [offer.id, payment.external_payment_id, True],
        )
        infos = []
        for (reversal_id,) in waiting:
            if _claim_pending(reversal_id):
                reversal = Event.get_by_id(reversal_id)
                reversal.occurred_at = now
                infos.append(self._reverse(offer, payment, reversal))
        return infos

    def apply_waiting_reversals(self, now=None) -> int:
        """Apply every pending refund or chargeback whose payment is recorded.

        The payment's own call applies them right after recording it; this
        catches what that cannot: a payment and its refund recorded at the
        same moment (on two servers), each blind to the other's uncommitted
        row, and a process that died between the two. The worker runs it
        every minute."""
        payment = Event.alias()
        found = (
            Event.select(Event.id, payment.id)
            .join(
                payment,
                on=(
                    (payment.offer == Event.offer)
                    & (payment.external_payment_id == Event.external_payment_id)
                    & payment.dedup_key.startswith("pay:")
                ),
            )
            .where(Event.pending == True)
            .tuples()
        )
        applied = []
        for reversal_id, payment_id in list(found):
            with db.atomic():
                if not _claim_pending(reversal_id):
                    continue
                original = Event.get_by_id(payment_id)
                reversal = Event.get_by_id(reversal_id)
                reversal.occurred_at = now or clock.now()
                applied.append(self._reverse(original.offer, original, reversal))
        self._notify(applied)
        return len(applied)

    def _duplicate(self, offer: Offer, key: str) -> Outcome:
        event = Event.get((Event.offer == offer.id) & (Event.dedup_key == key))
        return Outcome(200, answer(event, True), event)

    def _notify(self, infos: list[EventInfo]) -> None:
        for info in infos:
            call_isolated(self.pm, "on_event_recorded", event=info)
