"""The stats API (SPEC section 7): affiliates' trackers pull their events.

``GET /api/affiliate/stats-api`` answers one row per event of the token's
affiliate, as CSV or JSON, streamed as it is read from the database. A token
only ever shows its own affiliate's rows: every query is bound to the
affiliate found from the token, whatever the query string says.

Both count against ``stats_api.rate_limit`` per token (429 with ``Retry-After``
over it).

``GET /api/affiliate/report`` answers ``affnet.core.reports.build_report``
for the same affiliate (the numbers of the affiliate's stats page).

Dates at the ends of the calendar: the export clamps a bound that lies
beyond year 9999 or before year 1 in UTC (``parse_moment``: no event lies
there, so the rows are exact); the report answers 422 naming ``from`` or
``to`` (``reports.local_day_bounds``: each of its rows must be a whole day).
Every CSV cell goes through ``reports.spreadsheet_text``, so a visitor's
sub value cannot be a formula in the spreadsheet that opens the export.
"""

import csv
import io
import json
from urllib.parse import urlencode
from datetime import date, datetime, timedelta, UTC

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from werkzeug.exceptions import HTTPException

from ..core.network import api_tokens
from ..core.storage.rate_limits import rates
from ..core.storage.secrets import hash_token
from ..core import clock
from .api import error
from ..core.reports import (
    EXPORT_COLUMNS,
    Cursor,
    ExportFilter,
    ReportError,
    build_report,
    export_page,
    spreadsheet_text,
)

bp = Blueprint("stats_api", __name__, url_prefix="/api/affiliate")
FORMATS = ("csv", "json")
MAX_LIMIT = 100_000


class BadQuery(ValueError):
    def __init__(self, fields: dict):
        super().__init__("; ".join(f"{name} {why}" for name, why in fields.items()))
        self.fields = fields


def _error(status: int, message: str, fields: dict | None = None):
    response, response.status_code = error(status, message, fields)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="affnet stats"'
    return response


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.args.get("token")


def _authenticate():
    """The token of the call, or the error answer (429 over the limit, 401). The limit (``stats_api.rate_limit``)
    counts per token, or per address for a call without one, before the token is looked up: guesses count too."""
    token = _token()
    services = current_app.extensions["affnet"]
    caller = hash_token(token) if token else request.remote_addr or "-"
    wait = services.limits.hit(rates(services.settings["stats_api.rate_limit"]), "stats-api", caller)
    if wait:
        response = _error(429, "over the rate limit, slow down")
        response.headers["Retry-After"] = str(wait)
        return None, response
    found = api_tokens.authenticate(token)
    return (found, None) if found is not None else (None, _error(401, "missing, unknown or revoked token"))


def parse_moment(value: str, name: str, faults: dict, end: bool = False) -> datetime | None:
    """A date (``2026-06-01``: the whole UTC day, so ``to`` includes it) or an
    ISO 8601 time (UTC unless it carries an offset; ``to`` excludes it), as
    naive UTC.

    A moment that lies outside the years 1 to 9999 in UTC (``to=9999-12-31``,
    whose day ends in year 10000; ``from=0001-01-01T00:00:00+01:00``) is
    clamped to the first or last moment a datetime holds. No event lies
    beyond either, so the rows are exactly the ones asked for: a tracker's
    ``to=9999-12-31`` means "to the end", and it gets that."""
    if not value:
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end and day == date.max:
                return datetime.max
            return datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
        if "T" in value:  # an unencoded "+02:00" reaches us as " 02:00"
            value = value.replace(" ", "+")
        moment = datetime.fromisoformat(value)
    except ValueError:
        faults[name] = "must be a date (2026-06-01) or an ISO 8601 time (2026-06-01T12:00:00Z)"
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # in UTC it is before year 1 or after year 9999
            moment = datetime.min if moment.year == 1 else datetime.max
    return moment


def _list(name: str) -> tuple:
    values = []
    for raw in request.args.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return tuple(values)


def _limit(faults: dict) -> int | None:
    raw = request.args.get("limit")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        faults["limit"] = f"must be a whole number from 1 to {MAX_LIMIT}"
        return None
    return int(raw)


def _format(faults: dict) -> str:
    fmt = (request.args.get("format") or "csv").lower()
    if fmt not in FORMATS:
        faults["format"] = "must be csv or json"
    return fmt


def _parse_export(affiliate_id: int):
    faults: dict = {}
    fmt = _format(faults)
    start = parse_moment(request.args.get("from", ""), "from", faults)
    end = parse_moment(request.args.get("to", ""), "to", faults, end=True)
    if start and end and end <= start and not faults:
        faults["to"] = "must be after from"
    limit = _limit(faults)
    after = None
    try:
        if request.args.get("after"):
            after = Cursor.decode(request.args["after"])
    except ReportError as error:
        faults[error.field] = str(error)
    try:
        selection = ExportFilter(
            affiliate_id, request.args.get("offer") or None, start, end, _list("event"), _list("status")
        )
    except ReportError as error:
        faults[error.field] = str(error)
    if faults:
        raise BadQuery(faults)
    return fmt, selection, after, limit


def _csv_lines(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield take()
    for n, row in enumerate(rows, 1):
        writer.writerow(["" if row[column] is None else spreadsheet_text(row[column]) for column in EXPORT_COLUMNS])
        if n % 200 == 0:
            yield take()
    yield take()


def _json_chunks(rows):
    yield "["
    parts = []
    for n, row in enumerate(rows):
        parts.append(("," if n else "") + json.dumps(row, ensure_ascii=False))
        if len(parts) == 200:
            yield "".join(parts)
            parts = []
    yield "".join(parts) + "]"


def _next_link(cursor: str) -> str:
    args = request.args.to_dict(flat=False)
    args.pop("token", None)  # never echo a secret into a header
    args["after"] = [cursor]
    return f"<{request.base_url}?{urlencode(args, doseq=True)}>; rel=\"next\""


@bp.get("/stats-api")
def stats_api():
    token, refused = _authenticate()
    if refused is not None:
        return refused
    try:
        fmt, selection, after, limit = _parse_export(token.affiliate_id)
    except BadQuery as error:
        return _error(422, f"invalid query: {error}", error.fields)
    page = export_page(selection, after, limit)
    body = _csv_lines(page.rows) if fmt == "csv" else _json_chunks(page.rows)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    if fmt == "csv":
        response.headers["Content-Disposition"] = 'inline; filename="affnet-stats.csv"'
    if page.next_cursor is not None:
        cursor = page.next_cursor.encode()
        response.headers["X-Next-Cursor"] = cursor
        response.headers["Link"] = _next_link(cursor)
    return response


@bp.get("/report")
def report():
    token, refused = _authenticate()
    if refused is not None:
        return refused
    faults: dict = {}
    fmt = _format(faults)
    today = clock.now().date()
    days = {}
    for name in ("from", "to"):
        raw = request.args.get(name) or today.isoformat()
        try:
            days[name] = date.fromisoformat(raw)
        except ValueError:
            faults[name] = "must be a date such as 2026-06-01"
    if faults:
        return _error(422, "invalid query: " + "; ".join(f"{k} {v}" for k, v in faults.items()), faults)
    try:
        result = build_report(
            request.args.get("group_by", "day"),
            days["from"],
            days["to"],
            request.args.get("tz", "UTC"),
            affiliate=token.affiliate_id,
        )
    except ReportError as error:
        return _error(422, f"invalid query: {error}", {error.field or "query": str(error)})
    if fmt == "json":
        return jsonify(result.as_dict())
    return Response(result.as_csv(), mimetype="text/csv")


def _json_routing_error(exc: HTTPException):
    """A wrong method or path under ``/api/`` or ``/hooks/`` answers the API's JSON error body (with its
    ``Allow``), not an HTML page; every other path keeps Flask's answer."""
    if not request.path.startswith(("/api/", "/hooks/")):
        return exc
    response = _error(exc.code or 500, exc.description or exc.name)
    response.headers.update({name: value for name, value in exc.get_headers() if name.lower() != "content-type"})
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _json_routing_error)
