"""Reports: the numbers behind every page, the stats API and ``affnet report``.

``build_report`` is the one report function. ``export_page`` is the stats
API's row-per-event export, streamed in chunks and paged by a cursor.

What a report counts, for a range of local days of one time zone:

- ``clicks``: every click recorded through ``/r``, bots included.
- ``bot_clicks``: those flagged as bots (known bot or preview agents, HEAD).
- ``unique_clicks``: clicks flagged unique (no cookie of that participation
  yet) that are not bots.
- ``leads``, ``trials``, ``sales``, ``rebills``: events of each kind;
  ``rejected``: refunds and chargebacks. Only events attributed to an
  affiliate count (an unattributed event earns nothing and has no affiliate);
  a refund waiting for its payment counts once it is applied. A test
  conversion (``Event.is_test``) counts nowhere: not here, not in the export.
- ``gross``: per currency, the sum of ``gross_amount`` of sales and rebills
  (what customers paid; refunds are not subtracted).
- ``commission``: per currency, the sum of the affiliates' payouts of all
  events, reversals negative: what the affiliates earned, net.
- ``epc`` (earnings per click): per currency, commission ÷ (clicks − bot
  clicks), to 4 decimals; None without human clicks.
- ``conversion_rate``: sales ÷ unique clicks × 100 (a percentage, to 2
  decimals; rebills are not sales); None without unique clicks.

Clicks count on the day (and under the sub values) of the click; events on
the day of the event and under the sub values of their click (an event
without a click counts under "no value"). Money sums run in SQL over whole
1/10,000 units, so totals are exact. Reports by day, offer or affiliate count
clicks from the click rollup where it is complete and from the clicks after
it (``affnet.core.clicks.rollup``); the figures are the same either way.
"""

import base64
import binascii
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, UTC
from decimal import ROUND_HALF_UP, Decimal
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import JOIN, SQL, Case, fn

from .storage.db import is_postgres
from .storage.models import EVENT_KINDS, STATUS_OF_EVENT, Click, ClickRollup, Event, Offer, User
from .earnings.money import format_amount, from_units, round_money
from .clicks import rollup
from .clicks.tracking import AD_CLICK_IDS, ad_click_ids

SUB_GROUPS = tuple(f"sub{n}" for n in range(1, 11))
CLICK_ID_GROUPS = ("fbclid", *AD_CLICK_IDS)  # the ad platforms' click ids, shown where a sub id would be
GROUPS = ("day", "offer", "affiliate") + SUB_GROUPS + CLICK_ID_GROUPS
COUNTS = ("clicks", "unique_clicks", "bot_clicks", "leads", "trials", "sales", "rebills", "rejected")
STATUSES = tuple(sorted(set(STATUS_OF_EVENT.values())))
MAX_DAYS = 3660
EXPORT_COLUMNS = (
    "txid",
    "time",
    "offer",
    "click_id",
    "clickid",
    *SUB_GROUPS,
    *CLICK_ID_GROUPS,
    "event",
    "status",
    "payout",
    "currency",
)
_KIND_COUNT = {
    "lead": "leads",
    "trial": "trials",
    "sale": "sales",
    "rebill": "rebills",
    "refund": "rejected",
    "chargeback": "rejected",
}


class ReportError(ValueError):
    """A report or export that cannot be made; ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class ReportRow:
    """One group's numbers; ``key`` is the group's value (a date, an offer's
    slug, an affiliate's email, a sub value, or None for "no value")."""

    key: object
    label: str
    clicks: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    leads: int = 0
    trials: int = 0
    sales: int = 0
    rebills: int = 0
    rejected: int = 0
    gross: dict = field(default_factory=dict)
    commission: dict = field(default_factory=dict)

    @property
    def epc(self) -> dict:
        human = self.clicks - self.bot_clicks
        return {
            currency: (amount / human).quantize(Decimal("0.0001"), ROUND_HALF_UP) if human else None
            for currency, amount in sorted(self.commission.items())
        }

    @property
    def conversion_rate(self) -> Decimal | None:
        if not self.unique_clicks:
            return None
        return (Decimal(self.sales) * 100 / self.unique_clicks).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def add(self, other: "ReportRow") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.gross, other.gross), (self.commission, other.commission)):
            for currency, amount in theirs.items():
                mine[currency] = mine.get(currency, Decimal(0)) + amount

    def as_dict(self) -> dict:
        """Plain values for JSON: counts as numbers, money as strings."""
        return {
            "key": self.key.isoformat() if isinstance(self.key, date) else self.key,
            "label": self.label,
            **{name: getattr(self, name) for name in COUNTS},
            "gross": _money_dict(self.gross),
            "commission": _money_dict(self.commission),
            "epc": {currency: None if value is None else str(value) for currency, value in self.epc.items()},
            "conversion_rate": None if self.conversion_rate is None else str(self.conversion_rate),
        }


@dataclass
class Report:
    group_by: str
    date_from: date
    date_to: date
    tz: str
    rows: list
    total: ReportRow

    def as_dict(self) -> dict:
        return {
            "group_by": self.group_by,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "tz": self.tz,
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict(),
        }

    def as_csv(self, lineterminator: str = "\r\n") -> str:
        """The flat rows as CSV with a header row, every cell safe to open in a spreadsheet."""
        rows = list(self.flat_rows())
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(rows[0]) if rows else [self.group_by], lineterminator=lineterminator
        )
        writer.writeheader()
        writer.writerows(spreadsheet_row(row) for row in rows)
        return buffer.getvalue()

    def flat_rows(self) -> Iterator[dict]:
        """One flat dict per row and a last "total" row, money in
        ``gross_USD``-style columns: what CSV and terminal tables show."""
        currencies = sorted({c for row in self.rows for c in (*row.gross, *row.commission)})
        for row in [*self.rows, self.total]:
            flat = {self.group_by: row.label, **{name: getattr(row, name) for name in COUNTS}}
            epc = row.epc
            for currency in currencies:
                flat[f"gross_{currency}"] = money_text(row.gross.get(currency, Decimal(0)), currency)
                flat[f"commission_{currency}"] = money_text(row.commission.get(currency, Decimal(0)), currency)
                flat[f"epc_{currency}"] = "" if epc.get(currency) is None else str(epc[currency])
            flat["cr_percent"] = "" if row.conversion_rate is None else str(row.conversion_rate)
            yield flat


# A CSV cell that starts with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Kept as written: a plain number (a negative payout, -8.70), or a "-" and nothing but letters, digits, "_"
# and "-": affnet's own ids (click_id) may start with "-", and such a cell can neither call a function
# nor reach another program.
_HARMLESS = re.compile(r"-?[0-9]+(?:\.[0-9]+)?|-[A-Za-z0-9_-]*", re.ASCII)


def spreadsheet_text(value):
    """``value`` as a CSV cell that a spreadsheet shows as written, never runs.

    OWASP's advice on CSV injection: a text cell starting with ``=``, ``+``,
    ``-``, ``@``, tab or CR would be evaluated (``=HYPERLINK(...)`` in a sub
    value can send the sheet's other cells to a visitor's server), so it gets
    a leading ``'``, which spreadsheets take as "this is text". A plain number
    such as a negative payout (``-8.70``) is left as it is and stays a number,
    and so is an id such as a ``click_id`` that happens to start with ``-``
    (only letters, digits, ``_`` and ``-``): a tracker matching on it must
    find it as it was given out. Every CSV affnet writes for people (the stats API, the report API,
    ``affnet report --csv``) passes its cells through here; JSON answers keep
    the values as they came. Written here rather than taken from defusedcsv,
    which leaves tab and CR alone and rewrites ``|`` inside cells."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _HARMLESS.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_row(row: dict) -> dict:
    """``spreadsheet_text`` of every cell of a row (for ``csv.DictWriter``)."""
    return {name: spreadsheet_text(value) for name, value in row.items()}


def money_text(amount: Decimal, currency: str) -> str:
    """An exact amount with the currency's decimals, or more when it has more."""
    rounded = round_money(amount, currency)
    return str(rounded) if rounded == amount else str(amount.normalize())


def _money_dict(amounts: dict) -> dict:
    return {currency: money_text(amount, currency) for currency, amount in sorted(amounts.items())}


def zone(name) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"unknown time zone {name!r}: use an IANA name such as Europe/Madrid", "tz") from None


def local_day_bounds(date_from: date, date_to: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC (naive) start of ``date_from`` and end of ``date_to`` in ``tz``.

    A bound outside the years 1 to 9999 that datetime holds (the end of
    9999-12-31 anywhere, the start of 0001-01-01 east of UTC) is a
    ``ReportError`` naming ``from`` or ``to`` (the APIs answer 422). It is not
    clamped: a report has a row per day, and each row must be a whole day."""

    def utc(day: date, days_after: int, field: str) -> datetime:
        try:
            local = datetime.combine(day + timedelta(days=days_after), time(0), tz)
            return local.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ReportError(
                f"{field} {day} starts or ends outside the years 1 to 9999 in {tz.key}: "
                "pick a day from 0001-01-02 to 9999-12-30",
                field,
            ) from None

    return utc(date_from, 0, "from"), utc(date_to, 1, "to")


def _offset(tz: ZoneInfo, moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).astimezone(tz).utcoffset().total_seconds())


def offset_segments(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(UTC time from which it holds, UTC offset in seconds)] covering
    [start, end): where the zone's offset changes (daylight saving time)."""
    segments = [(start, _offset(tz, start))]
    step = timedelta(hours=6)
    moment = start
    while moment < end:
        following = min(moment + step, end)
        if _offset(tz, following) != segments[-1][1]:
            low, high = moment, following  # the change lies in (low, high]: find its minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if _offset(tz, middle) == segments[-1][1]:
                    low = middle
                else:
                    high = middle
            segments.append((high, _offset(tz, high)))
        moment = following
    return segments


def _local_date(column, seconds: int):
    if is_postgres():
        return fn.DATE(column + SQL("%s::interval", (f"{seconds} seconds",))).coerce(False)
    return fn.date(column, f"{seconds:+d} seconds").coerce(False)


def _day_expression(column, segments):
    if len(segments) == 1:
        return _local_date(column, segments[0][1])
    cases = [
        (column < following[0], _local_date(column, current[1])) for current, following in zip(segments, segments[1:])
    ]
    return Case(None, cases, _local_date(column, segments[-1][1]))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _ids(value) -> int | None:
    return getattr(value, "id", value)


def build_report(
    group_by: str, date_from: date, date_to: date, tz="UTC", *, affiliate=None, offer=None, advertiser=None
) -> Report:
    """Clicks, events and money grouped by ``group_by`` (``day``, ``offer``,
    ``affiliate`` or ``sub1``…``sub10``) for the local days ``date_from`` to
    ``date_to`` (both included) of ``tz``, optionally only for one affiliate,
    one offer, or the offers of one product owner (each a row or an id).

    A day report has a row for every day of the range; other reports have a
    row per value seen, the busiest first. Metrics are defined in this
    module's docstring.
    """
    if group_by not in GROUPS:
        raise ReportError(f"group by one of {', '.join(GROUPS)}", "group_by")
    if date_to < date_from:
        raise ReportError("the range ends before it starts", "to")
    if (date_to - date_from).days >= MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days", "to")
    tz = zone(tz)
    start, end = local_day_bounds(date_from, date_to, tz)
    segments = offset_segments(tz, start, end)
    rows: dict = {}

    def row_for(raw_key):
        key = _as_date(raw_key) if group_by == "day" else raw_key
        if key not in rows:
            rows[key] = ReportRow(key, "")
        return rows[key]

    clicks = _click_counts(group_by, segments, start, end, affiliate, offer, advertiser)
    for raw_key, total, unique, bots in clicks:
        row = row_for(raw_key)
        row.clicks += int(total)
        row.unique_clicks += int(unique or 0)
        row.bot_clicks += int(bots or 0)
    for raw_key, kind, payout_currency, currency, count, payout, gross in _event_sums(
        group_by, segments, start, end, affiliate, offer, advertiser
    ):
        row = row_for(raw_key)
        name = _KIND_COUNT[kind]
        setattr(row, name, getattr(row, name) + count)
        if payout:
            row.commission[payout_currency] = row.commission.get(payout_currency, Decimal(0)) + from_units(payout)
        if gross and kind in ("sale", "rebill") and currency:
            row.gross[currency] = row.gross.get(currency, Decimal(0)) + from_units(gross)
    ordered = _order_and_label(group_by, rows, date_from, date_to)
    total = ReportRow("total", "total")
    for row in ordered:
        total.add(row)
    return Report(group_by, date_from, date_to, tz.key, ordered, total)


def _group_key(group_by, model, column, segments):
    if group_by == "day":
        return _day_expression(column, segments)
    if group_by == "offer":
        return model.offer
    if group_by == "affiliate":
        return model.affiliate
    if group_by == "fbclid":
        return Click.fbclid
    if group_by in AD_CLICK_IDS:
        return _json_text(Click.ad_click_ids, group_by)
    return getattr(Click, "s" + group_by[3:])


def _json_text(column, key: str):
    """``column``'s JSON object's text at ``key`` (None when absent), in SQL."""
    if is_postgres():
        return fn.json_extract_path_text(column.cast("json"), key)
    return fn.json_extract(column, f'$."{key}"')


def _filtered(query, model, affiliate, offer, advertiser):
    if affiliate is not None:
        query = query.where(model.affiliate == _ids(affiliate))
    if offer is not None:
        query = query.where(model.offer == _ids(offer))
    if advertiser is not None:
        query = query.where(model.offer.in_(Offer.select(Offer.id).where(Offer.advertiser == _ids(advertiser))))
    return query


def _click_counts(group_by, segments, start, end, affiliate, offer, advertiser):
    """(key, clicks, unique clicks, bot clicks) rows; the same key may come twice (rolled up, then recent)."""
    if group_by in ("day", "offer", "affiliate"):
        until = rollup.rolled_up_until()
        if until is not None and until > start:
            counted = min(until, end)
            yield from _rolled_up_counts(group_by, segments, start, counted, affiliate, offer, advertiser)
            start = counted
    if start < end:
        yield from _raw_click_counts(group_by, segments, start, end, affiliate, offer, advertiser)


def _rolled_up_counts(group_by, segments, start, end, affiliate, offer, advertiser):
    key = _group_key(group_by, ClickRollup, ClickRollup.bucket, segments)
    query = ClickRollup.select(
        key, fn.SUM(ClickRollup.clicks), fn.SUM(ClickRollup.unique_clicks), fn.SUM(ClickRollup.bot_clicks)
    ).where((ClickRollup.bucket >= start) & (ClickRollup.bucket < end))
    return _filtered(query, ClickRollup, affiliate, offer, advertiser).group_by(SQL("1")).tuples()


def _raw_click_counts(group_by, segments, start, end, affiliate, offer, advertiser):
    key = _group_key(group_by, Click, Click.created_at, segments)
    unique = fn.SUM(Case(None, [((Click.is_unique == True) & (Click.is_bot == False), 1)], 0))
    bots = fn.SUM(Case(None, [(Click.is_bot == True, 1)], 0))
    query = Click.select(key, fn.COUNT(SQL("*")), unique, bots).where(
        (Click.created_at >= start) & (Click.created_at < end)
    )
    return _filtered(query, Click, affiliate, offer, advertiser).group_by(SQL("1")).tuples()


def _event_sums(group_by, segments, start, end, affiliate, offer, advertiser):
    key = _group_key(group_by, Event, Event.occurred_at, segments)
    query = Event.select(
        key,
        Event.kind,
        Event.payout_currency,
        Event.currency,
        fn.COUNT(SQL("*")),
        fn.SUM(Event.payout).coerce(False),
        fn.SUM(Event.gross_amount).coerce(False),
    )
    if group_by in SUB_GROUPS + CLICK_ID_GROUPS:
        query = query.join(Click, JOIN.LEFT_OUTER, on=(Event.click == Click.id))
    query = query.where((Event.occurred_at >= start) & (Event.occurred_at < end) & (Event.is_test == False))
    if affiliate is None:
        query = query.where(Event.affiliate.is_null(False))
    query = _filtered(query, Event, affiliate, offer, advertiser)
    return query.group_by(SQL("1"), SQL("2"), SQL("3"), SQL("4")).tuples()


def _order_and_label(group_by, rows: dict, date_from: date, date_to: date) -> list:
    if group_by == "day":
        days = []
        for n in range((date_to - date_from).days + 1):
            day = date_from + timedelta(days=n)
            row = rows.get(day) or ReportRow(day, "")
            row.label = day.isoformat()
            days.append(row)
        return days
    if group_by in ("offer", "affiliate"):
        model, attribute = (Offer, "slug") if group_by == "offer" else (User, "email")
        names = (
            dict(model.select(model.id, getattr(model, attribute)).where(model.id.in_(list(rows))).tuples())
            if rows
            else {}
        )
        for row in rows.values():
            row.key = names.get(row.key, row.key)
            row.label = str(row.key)
    else:
        for row in rows.values():
            row.label = "(none)" if row.key is None else str(row.key)
    return sorted(rows.values(), key=lambda row: (-row.clicks, -row.sales, row.label))


# ---- the stats API's export: one row per event ----------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A place in the export's order (event time, then txid)."""

    occurred_at: datetime
    txid: str

    def encode(self) -> str:
        text = f"{self.occurred_at.isoformat(timespec='microseconds')}|{self.txid}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            moment, txid = text.split("|", 1)
            return cls(datetime.fromisoformat(moment), txid)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ReportError("is not a cursor this API gave out", "after") from None


@dataclass(frozen=True)
class ExportFilter:
    """What an export covers: ``start`` included, ``end`` excluded (naive UTC)."""

    affiliate_id: int
    offer_slug: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    events: tuple = ()
    statuses: tuple = ()

    def __post_init__(self):
        for kind in self.events:
            if kind not in EVENT_KINDS:
                raise ReportError(f"must be one of {', '.join(EVENT_KINDS)}", "event")
        for status in self.statuses:
            if status not in STATUSES:
                raise ReportError(f"must be one of {', '.join(STATUSES)}", "status")


@dataclass
class ExportPage:
    """The rows of one page (an iterator, fetched in chunks as it is read)
    and the cursor of the next page, known before the first row is read."""

    rows: Iterator[dict]
    next_cursor: Cursor | None


EXPORT_CHUNK = 1000


def _export_query(selection: ExportFilter):
    query = Event.select().where((Event.affiliate == selection.affiliate_id) & (Event.is_test == False))
    if selection.offer_slug is not None:
        offer = Offer.get_or_none(Offer.slug == selection.offer_slug)
        query = query.where(Event.offer == (offer.id if offer else -1))
    if selection.start is not None:
        query = query.where(Event.occurred_at >= selection.start)
    if selection.end is not None:
        query = query.where(Event.occurred_at < selection.end)
    if selection.events:
        query = query.where(Event.kind.in_(list(selection.events)))
    if selection.statuses:
        query = query.where(Event.status.in_(list(selection.statuses)))
    return query


def _after(query, cursor: Cursor):
    return query.where(
        (Event.occurred_at >= cursor.occurred_at)
        & ((Event.occurred_at > cursor.occurred_at) | (Event.txid > cursor.txid))
    )


def _up_to(query, cursor: Cursor):
    return query.where(
        (Event.occurred_at <= cursor.occurred_at)
        & ((Event.occurred_at < cursor.occurred_at) | (Event.txid <= cursor.txid))
    )


def export_page(
    selection: ExportFilter, after: Cursor | None = None, limit: int | None = None, chunk: int = EXPORT_CHUNK
) -> ExportPage:
    """The affiliate's events in (event time, txid) order, after ``after``.

    With ``limit``, the page ends at the ``limit``-th row, and when more rows
    follow, ``next_cursor`` is that row's place: pass it as ``after`` for the
    next page. The page is bounded by that cursor, so rows recorded while it
    is read never shift it. Rows are fetched ``chunk`` at a time, so a page of
    any size is never held in memory.
    """
    base = _export_query(selection)
    if after is not None:
        base = _after(base, after)
    boundary = None
    if limit is not None:
        edge = list(
            base.select(Event.occurred_at, Event.txid)
            .order_by(Event.occurred_at, Event.txid)
            .offset(limit - 1)
            .limit(2)
            .tuples()
        )
        if len(edge) == 2:
            boundary = Cursor(*edge[0])
    return ExportPage(_export_rows(base, boundary, chunk), boundary)


def _export_rows(base, boundary: Cursor | None, chunk: int) -> Iterator[dict]:
    if boundary is not None:
        base = _up_to(base, boundary)
    subs = [getattr(Click, f"s{n}") for n in range(1, 11)]
    base = (
        base.select(
            Event.txid,
            Event.occurred_at,
            Event.offer,
            Event.kind,
            Event.status,
            Event.payout,
            Event.payout_currency,
            Click.click_id,
            Click.clickid,
            Click.fbclid,
            Click.ad_click_ids,
            *subs,
        )
        .join(Click, JOIN.LEFT_OUTER, on=(Event.click == Click.id))
        .order_by(Event.occurred_at, Event.txid)
    )
    slugs: dict = {}
    position = None
    while True:
        query = base if position is None else _after(base, position)
        batch = list(query.limit(chunk).tuples())
        for (
            txid,
            occurred_at,
            offer_id,
            kind,
            status,
            payout,
            currency,
            click_id,
            clickid,
            fbclid,
            ad_ids,
            *sub_values,
        ) in batch:
            if offer_id not in slugs:
                slugs[offer_id] = Offer.select(Offer.slug).where(Offer.id == offer_id).scalar()
            ad_ids = ad_click_ids(ad_ids)
            yield {
                "txid": txid,
                "time": occurred_at.isoformat(timespec="seconds") + "Z",
                "offer": slugs[offer_id],
                "click_id": click_id,
                "clickid": (clickid or sub_values[0] or click_id) if click_id else None,
                **dict(zip(SUB_GROUPS, sub_values)),
                "fbclid": fbclid,
                **{name: ad_ids.get(name) for name in AD_CLICK_IDS},
                "event": kind,
                "status": status,
                "payout": format_amount(payout, currency),
                "currency": currency,
            }
        if len(batch) < chunk:
            return
        position = Cursor(batch[-1][1], batch[-1][0])
