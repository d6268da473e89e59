"""The ingest API (SPEC section 2): parse, call the core, answer JSON.

Every failure is a JSON body ``{"error": ..., "fields": {...}}`` with a 4xx
status; nothing is written unless the answer is 200, 201 or 202.
"""
import hashlib
import json
import threading
import time
from decimal import Decimal
from functools import lru_cache

from flask import Blueprint, current_app, g, request
from limits import parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import HTTPException, TooManyRequests

from ..core import accounts
from ..core.ingest import IngestError, parse_conversion, parse_reversal

bp = Blueprint("ingest", __name__, url_prefix="/api/ingest")


def _json(body: dict):
    return current_app.response_class(_ENCODER.encode(body) + "\n", mimetype="application/json")


def error(status: int, message: str, fields: dict | None = None):
    return _json({"error": message, "fields": fields or {}}), status


def _reject_constant(name):
    raise ValueError(f"{name} is not a number")


# Made once: json.loads with arguments builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _body():
    raw = request.get_data(cache=False)
    try:
        return _DECODER.decode((raw or b"null").decode())
    except (ValueError, UnicodeDecodeError):
        raise IngestError("the body is not valid JSON") from None


def _offer():
    return accounts.offer_by_key(request.headers.get("X-Offer-Key"))


def _answer(outcome):
    g.txid = outcome.body["txid"]
    return _json(outcome.body), outcome.http_status


def _key_of_caller() -> str:
    return _hashed(request.headers.get("X-Offer-Key") or request.remote_addr or "-")


@lru_cache(maxsize=4096)
def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@bp.before_request
def _rate_limit():
    limiter, rates = current_app.extensions["affnet_limiter"]
    caller = _key_of_caller()
    for rate in rates:
        if not limiter.hit(rate, "ingest", caller):
            raise TooManyRequests()


@bp.post("/conversion")
def conversion():
    offer = _offer()
    if offer is None:
        return error(401, "missing or wrong X-Offer-Key")
    recorder = current_app.extensions["affnet"].recorder
    return _answer(recorder.conversion(offer, parse_conversion(_body(), offer)))


def _reversal(kind):
    offer = _offer()
    if offer is None:
        return error(401, "missing or wrong X-Offer-Key")
    recorder = current_app.extensions["affnet"].recorder
    return _answer(recorder.reversal(offer, parse_reversal(kind, _body())))


@bp.post("/refund")
def refund():
    return _reversal("refund")


@bp.post("/chargeback")
def chargeback():
    return _reversal("chargeback")


@bp.errorhandler(IngestError)
def _invalid(exc: IngestError):
    return error(422, str(exc), exc.fields)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    messages = {413: "the body is too large", 429: "over the rate limit, slow down",
                405: "use POST", 400: "bad request"}
    return error(exc.code or 400, messages.get(exc.code, exc.description or "bad request"))


class SweptMemoryStorage(MemoryStorage):
    """The ``memory://`` storage of ``limits``, without its timer thread.

    ``limits`` drops expired counters from a thread that lives 10 ms and is
    started again on nearly every hit: about a hundred threads a second per
    process under load. A counter is checked for expiry whenever it is read,
    so the sweep only frees memory; here it runs inline, once a second."""

    STORAGE_SCHEME = ["affnet-memory"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timer.cancel()  # the one MemoryStorage starts
        self._swept_at = time.monotonic()
        self._sweep_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage.__schedule_expiry
        if time.monotonic() - self._swept_at >= 1 and self._sweep_lock.acquire(blocking=False):
            try:
                self._swept_at = time.monotonic()
                self._MemoryStorage__expire_events()
            finally:
                self._sweep_lock.release()


def init_app(app, settings):
    """Register the ingest API with its rate limit per offer key (a fixed
    window, counted with the ``limits`` library in ``ingest.rate_limit_storage``)."""
    storage_uri = settings["ingest.rate_limit_storage"]
    if storage_uri.startswith("memory://"):
        storage_uri = "affnet-memory://"
    limiter = FixedWindowRateLimiter(storage_from_string(storage_uri))
    app.extensions["affnet_limiter"] = (limiter, parse_many(settings["ingest.rate_limit"]))
    app.register_blueprint(bp)
