"""The ingest API (SPEC section 2): parse, call the core, answer JSON.

Like ``/r``, it is a plain WSGI handler placed in front of Flask
(``IngestAPI``): it is the other hot path, and Flask's request machinery
(contexts, hooks, routing, response objects) cost the server about a sixth
of its calls per second. It answers every request under ``/api/ingest/``;
everything else goes on to the Flask app.

Every failure is a JSON body ``{"error": ..., "fields": {...}}`` with a 4xx
status; nothing is written unless the answer is 200, 201 or 202. A database
that does not answer gives ``503`` (nothing recorded, try again).

The one exception: a call with a valid key, whatever its body, sets the
offer's "key last used" time, at most once a minute per offer per process
(``accounts.note_key_used``).
"""

import hashlib
import json
import logging
from decimal import Decimal
from functools import lru_cache
from http import HTTPStatus

from flask import current_app
from ..core import clock
from ..core.network import accounts
from ..core.storage.db import DATABASE_ERRORS, db
from ..core.storage.rate_limits import rates
from ..core.events.ingest import IngestError, parse_call
from ..logs import access_writer, log_text
from .security_headers import NOSNIFF

log = logging.getLogger("affnet.ingest")
CALLS = ("conversion", "refund", "chargeback")
PREFIX = "/api/ingest/"
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _reject_constant(name):
    raise ValueError(f"{name} is not a number")


# Made once: json.loads with arguments builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def error_body(message: str, fields: dict | None = None) -> dict:
    """The body of every error of the API: what is wrong, and why, field by field."""
    return {"error": message, "fields": fields or {}}


def error(status: int, message: str, fields: dict | None = None):
    """An error answer from a Flask view (the stats API)."""
    response = current_app.response_class(
        _ENCODER.encode(error_body(message, fields)) + "\n", mimetype="application/json"
    )
    return response, status


def database_down(failure: Exception) -> dict:
    """Log a database that did not answer; the body of the ``503`` that says so."""
    logging.getLogger("affnet.db").error("database error: %s", failure)
    return error_body("the database is unavailable; nothing was recorded, try again")


@lru_cache(maxsize=4096)
def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class _Refused(Exception):
    """An answer other than the event's: (status, message), and its headers."""

    def __init__(self, status: int, message: str, headers: tuple = ()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


def _body(environ, limit: int):
    """The request's JSON body, at most ``limit`` bytes."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        raise _Refused(400, "bad request") from None
    if length > limit:
        raise _Refused(413, "the body is too large")
    try:
        raw = stream.read(length) if length >= 0 else stream.read(limit + 1)  # no length: chunked
    except OSError:  # the client went away in the middle of a chunked body
        raise _Refused(400, "the body could not be read to its end") from None
    if len(raw) > limit:
        raise _Refused(413, "the body is too large")
    if length >= 0 and len(raw) < length:  # the client went away: what came is not what was sent
        raise _Refused(400, "the body is shorter than its Content-Length")
    try:
        return _DECODER.decode((raw or b"null").decode())
    except RecursionError:  # the decoder recurses per level: a body need not nest at all
        raise IngestError("the body is not valid JSON: it is too deeply nested") from None
    except (ValueError, UnicodeDecodeError):
        raise IngestError("the body is not valid JSON") from None


class IngestAPI:
    """WSGI middleware: answers ``/api/ingest/*`` itself, hands every other
    path to ``app``. Calls are rate limited per offer key (``ingest.rate_limit``,
    a fixed window counted in ``limits``: this process, or Redis)."""

    def __init__(self, app, settings, recorder, limits):
        self.app = app
        self.recorder = recorder
        self.settings = settings
        self.max_body = settings["ingest.max_body_bytes"]
        self.limits = limits
        self.log = access_writer() or (lambda message: None)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        txid = "-"
        extra = []
        try:
            status, body = self._call(environ, path[len(PREFIX) :], method)
            txid = body.get("txid", "-")
        except _Refused as refused:
            status, body, extra = refused.status, error_body(str(refused)), refused.headers
        except IngestError as invalid:
            status, body = 422, error_body(str(invalid), invalid.fields)
        except DATABASE_ERRORS as failure:
            status, body = 503, database_down(failure)
        except Exception:  # a bug: say so in the log, answer JSON all the same
            log.exception("ingest %s failed", path)
            status, body = 500, error_body("internal error; nothing was recorded, try again")
        data = (_ENCODER.encode(body) + "\n").encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), NOSNIFF, *extra]
        start_response(_STATUS_LINES[status], headers)
        shown = path if path[len(PREFIX) :] in CALLS else log_text(path)
        self.log(f"method={log_text(method)} path={shown} status={status} ref=- click_id=- txid={txid}")
        return [data]

    def _call(self, environ, call: str, method: str) -> tuple[int, dict]:
        if call not in CALLS:
            raise _Refused(
                404, "no such call: use /api/ingest/conversion, /api/ingest/refund or /api/ingest/chargeback"
            )
        if method != "POST":
            raise _Refused(405, "use POST", [("Allow", "POST")])
        key = environ.get("HTTP_X_OFFER_KEY")
        caller = _hashed(key or environ.get("REMOTE_ADDR") or "-")
        wait = self.limits.hit(rates(self.settings["ingest.rate_limit"]), "ingest", caller)
        if wait:
            raise _Refused(429, "over the rate limit, slow down", [("Retry-After", str(wait))])
        db.connect(reuse_if_open=True)
        try:
            offer = accounts.offer_by_key(key)
            if offer is None:
                raise _Refused(401, "missing or wrong X-Offer-Key")
            now = clock.now()
            try:
                body = _body(environ, self.max_body)
                outcome = self.recorder.record(offer, parse_call(call, body, offer), now=now)
            finally:
                _note_key_used(offer, now)
        finally:
            if not db.is_closed():
                db.close()
        return outcome.http_status, outcome.body


def _note_key_used(offer, now) -> None:
    """The offer page's "key last used" (written at most once a minute): never a reason for an ingest call
    to fail, so a failure is only logged."""
    try:
        accounts.note_key_used(offer, now)
    except Exception as failure:  # noqa: BLE001 - whatever it is, the call's own answer stands
        log.warning("the last use of the key of offer %s was not recorded: %s", offer.id, failure)


def init_app(app, settings, recorder, limits):
    """Put the ingest API in front of the Flask app."""
    app.wsgi_app = IngestAPI(app.wsgi_app, settings, recorder, limits)
