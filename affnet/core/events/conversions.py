"""An offer's events as its product owner reads them: every event, newest
first, filtered, a page at a time, and the CSV of every filtered row.

Each row says what the event is (kind, status, the gross amount the customer
paid, the affiliate's commission), whose it is (the affiliate, or nobody),
which payment it concerns, and for a refund or chargeback which recorded
payment it reverses, or that it waits for that payment. Test conversions are
marked; a filter shows them, hides them or shows only them.

``record_test`` is the owner's test form: a test conversion through the
ingest path's own parsing, pricing and answer (``ingest``'s docstring says
what a test books: nothing).
"""

import csv
import io
import secrets as _random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from peewee import JOIN

from .. import clock
from ..network import audit
from ..reports import Cursor, money_text, spreadsheet_row
from ..storage.db import db
from ..storage.models import EVENT_KINDS, Event, Offer, Participation, User
from .attribution import Attribution
from .ingest import Outcome, Recorder, parse_conversion

PAGE_SIZE = 100
TEST_CHOICES = ("shown", "hidden", "only")
CSV_COLUMNS = (
    "time",
    "txid",
    "event",
    "status",
    "gross_amount",
    "currency",
    "commission",
    "commission_currency",
    "affiliate",
    "attributed",
    "external_payment_id",
    "refund_id",
    "reverses",
    "waiting_for_payment",
    "test",
    "source",
)


@dataclass(frozen=True)
class ConversionFilter:
    """Which of an offer's events to list: ``start`` included, ``end`` excluded (naive UTC); ``attributed``
    None for both; ``tests`` one of ``TEST_CHOICES``; ``payment`` an ``external_payment_id`` (a payment with
    its refunds and chargebacks)."""

    offer_id: int
    start: datetime | None = None
    end: datetime | None = None
    kind: str | None = None
    affiliate_id: int | None = None
    attributed: bool | None = None
    tests: str = "shown"
    payment: str | None = None

    def __post_init__(self):
        if self.kind is not None and self.kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}")
        if self.tests not in TEST_CHOICES:
            raise ValueError(f"tests must be one of {', '.join(TEST_CHOICES)}")


@dataclass(frozen=True)
class ConversionRow:
    txid: str
    occurred_at: datetime
    kind: str
    status: str
    gross_amount: Decimal | None
    currency: str | None
    payout: Decimal
    payout_currency: str
    affiliate: str | None  # the affiliate's email
    attributed: bool
    external_payment_id: str | None
    refund_id: str | None
    reverses: str | None  # the txid of the payment a refund or chargeback reverses
    pending: bool  # a refund or chargeback waiting for its payment
    is_test: bool
    source: str

    def as_csv(self) -> dict:
        """The row as the CSV has it: amounts exact, with at least the currency's decimals."""
        return {
            "time": clock.iso(self.occurred_at),
            "txid": self.txid,
            "event": self.kind,
            "status": self.status,
            "gross_amount": ""
            if self.gross_amount is None
            else money_text(self.gross_amount, self.currency or self.payout_currency),
            "currency": self.currency or "",
            "commission": money_text(self.payout, self.payout_currency),
            "commission_currency": self.payout_currency,
            "affiliate": self.affiliate or "",
            "attributed": "yes" if self.attributed else "no",
            "external_payment_id": self.external_payment_id or "",
            "refund_id": self.refund_id or "",
            "reverses": self.reverses or "",
            "waiting_for_payment": "yes" if self.pending else "",
            "test": "yes" if self.is_test else "",
            "source": self.source,
        }


_PAYMENT = Event.alias("payment")
_COLUMNS = (
    Event.txid,
    Event.occurred_at,
    Event.kind,
    Event.status,
    Event.gross_amount,
    Event.currency,
    Event.payout,
    Event.payout_currency,
    User.email,
    Event.attributed,
    Event.external_payment_id,
    Event.refund_id,
    _PAYMENT.txid,
    Event.pending,
    Event.is_test,
    Event.source,
)


def _query(selection: ConversionFilter):
    query = (
        Event.select(*_COLUMNS)
        .join(User, JOIN.LEFT_OUTER, on=(Event.affiliate == User.id))
        .switch(Event)
        .join(_PAYMENT, JOIN.LEFT_OUTER, on=(Event.reverses == _PAYMENT.id))
        .where(Event.offer == selection.offer_id)
    )
    if selection.start is not None:
        query = query.where(Event.occurred_at >= selection.start)
    if selection.end is not None:
        query = query.where(Event.occurred_at < selection.end)
    if selection.kind is not None:
        query = query.where(Event.kind == selection.kind)
    if selection.affiliate_id is not None:
        query = query.where(Event.affiliate == selection.affiliate_id)
    if selection.attributed is not None:
        query = query.where(Event.attributed == selection.attributed)
    if selection.tests != "shown":
        query = query.where(Event.is_test == (selection.tests == "only"))
    if selection.payment is not None:
        query = query.where(Event.external_payment_id == selection.payment)
    return query.order_by(Event.occurred_at.desc(), Event.txid.desc())


def _before(query, cursor: Cursor):
    """The rows after ``cursor`` in the newest-first order."""
    return query.where(
        (Event.occurred_at <= cursor.occurred_at)
        & ((Event.occurred_at < cursor.occurred_at) | (Event.txid < cursor.txid))
    )


def _rows(query) -> list[ConversionRow]:
    return [ConversionRow(*values) for values in query.tuples()]


def page(
    selection: ConversionFilter, after: Cursor | None = None, size: int | None = None
) -> tuple[list[ConversionRow], Cursor | None]:
    """One page (``PAGE_SIZE`` rows unless ``size`` says) of the filtered events, newest first, after
    ``after``; and the cursor of the next page (None on the last). Rows recorded meanwhile never shift a
    page: each starts from the last row seen."""
    size = size or PAGE_SIZE
    query = _query(selection)
    if after is not None:
        query = _before(query, after)
    rows = _rows(query.limit(size + 1))
    following = None
    if len(rows) > size:
        rows = rows[:size]
        following = Cursor(rows[-1].occurred_at, rows[-1].txid)
    return rows, following


def every_row(selection: ConversionFilter, chunk: int = 1000) -> Iterator[ConversionRow]:
    """Every filtered event, newest first, read ``chunk`` rows at a time."""
    after = None
    while True:
        rows, after = page(selection, after, chunk)
        yield from rows
        if after is None:
            return


def csv_chunks(selection: ConversionFilter, chunk: int = 1000) -> Iterator[str]:
    """The CSV of every filtered event (a header row first), as text chunks to stream; every cell safe to open
    in a spreadsheet (``reports.spreadsheet_text``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for number, row in enumerate(every_row(selection, chunk), 1):
        writer.writerow(spreadsheet_row(row.as_csv()))
        if number % chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def record_test(
    recorder: Recorder,
    offer: Offer,
    kind: str,
    gross_amount: str | None = None,
    participation: Participation | None = None,
    payment_id: str | None = None,
) -> Outcome:
    """Record a test conversion of ``offer`` as the ingest API would record ``{"test": true, ...}``: the same
    checks (``IngestError`` with a reason per field, nothing written), the same pricing and answer; it is
    attributed to ``participation`` when one is given (else to nobody) and made up a payment id when none is
    given. Audited as ``conversion.test``."""
    body = {"event": kind, "test": True, "external_payment_id": payment_id or "test_" + _random.token_urlsafe(9)}
    if gross_amount:
        body["gross_amount"] = gross_amount
    conversion = parse_conversion(body, offer)
    attribution = Attribution(participation, None) if participation is not None else None
    with db.atomic():
        outcome = recorder.conversion(offer, conversion, source="test", attribution=attribution)
        if outcome.http_status == 201:
            event = outcome.event
            values = {
                "event": event.kind,
                "gross_amount": event.gross_amount,
                "payout": event.payout,
                "payout_currency": event.payout_currency,
                "external_payment_id": event.external_payment_id,
                "ref_code": participation.ref_code if participation is not None else None,
            }
            audit.record("conversion.test", event.txid, audit.created(values), offer=offer)
    return outcome
