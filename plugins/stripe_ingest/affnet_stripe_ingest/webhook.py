"""``POST /hooks/stripe/<offer_slug>``: Stripe's webhook, one endpoint per offer.

The request is verified with the official library
(``stripe.Webhook.construct_event``, Stripe's default tolerance of five
minutes) against the offer's signing secret. The library only refuses a
signature older than that; one timestamped more than ``CLOCK_SKEW_SECONDS``
(five minutes too) ahead of this server's clock is refused here, so a
signature is good for at most ten minutes however it was made. Then each
ingest call that ``events.translate`` plans is made through the app's
recorder, exactly as ``/api/ingest/*`` makes it: the same parsing (and text
check), the same idempotency keys, the same pricing. Answers:

* 400 for a missing, wrong, stale or future signature, or a body that is
  not an event (not JSON, or nested too deeply to read); 404 for an unknown
  offer or one without a signing secret; 413 for a body over
  ``MAX_BODY_BYTES`` (512 KiB, not ``ingest.max_body_bytes``), sent with a
  Content-Length or chunked; 422 for a signed event that lacks what its type
  needs or carries an id the ingest API refuses (text must be valid Unicode
  without control characters). Nothing is written. Stripe retries such an
  answer for three days, then marks the event failed on the endpoint's page.
* 503 while the database does not answer (the app's handler): nothing is
  written and Stripe's retries deliver the event later.
* 2xx otherwise, so Stripe stops retrying: the core's status for one call
  (201 recorded, 200 a duplicate, 202 a refund kept until its payment
  arrives), 200 for several calls or an ignored event.

Every call to an existing offer is shown on the offer's Stripe page
(``record_webhook_call``): its status, the event's type once the signature
holds, and what came of it.
"""

import json
import logging
import time

import stripe
from flask import Blueprint, abort, g, jsonify, request
from werkzeug.exceptions import HTTPException

from affnet.plugins.sources import (
    IngestError,
    find_offer,
    get_offer_secret,
    parse_call,
    record,
    record_webhook_call,
)

from .events import PayloadError, translate

SECRET_NAME = "stripe_webhook_secret"
SOURCE = "stripe"
# Stripe's events are larger than ingest bodies (an invoice lists its lines);
# this limit replaces ingest.max_body_bytes for this route only.
MAX_BODY_BYTES = 512 * 1024
# How far ahead of this server's clock a signature's timestamp may be: the five minutes the library
# allows behind it, so a clock off by that much either way still takes Stripe's events.
CLOCK_SKEW_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE

log = logging.getLogger("affnet.stripe_ingest")
bp = Blueprint("stripe", __name__)  # mounted at /hooks/stripe/


def error(status: int, message: str, fields: dict | None = None):
    return jsonify({"error": message, "fields": fields or {}}), status


def _signed_at(header: str) -> int:
    """The ``t=`` of a header the library has verified (the first one, as the library reads it)."""
    return int(next(value for name, _, value in (item.partition("=") for item in header.split(",")) if name == "t"))


def _verified_event(payload: bytes, secret: str) -> tuple[dict | None, str]:
    """(the event, "") when Stripe signed ``payload`` with ``secret`` within
    the tolerance of this server's clock, either way; (None, why) otherwise."""
    header = request.headers.get("Stripe-Signature", "")
    try:
        stripe.Webhook.construct_event(payload, header, secret)
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        return None, "the Stripe-Signature header is missing, wrong or too old"
    except RecursionError:  # the library's JSON decoder (and ours) recurses per level
        return None, "the body is not a Stripe event: it is too deeply nested"
    except Exception:  # signed, yet not an event the library can read: a bad request, never a 500
        return None, "the body is not a Stripe event"
    if _signed_at(header) > time.time() + CLOCK_SKEW_SECONDS:
        return None, "the Stripe-Signature header is timestamped in the future: check this server's clock"
    return (event, "") if isinstance(event, dict) else (None, "the body is not a Stripe event")


def _payload() -> bytes:
    """The raw body, refused with 413 past ``MAX_BODY_BYTES``. Werkzeug's own
    limit cuts a chunked body (no Content-Length) short at the limit without
    a word, which would then fail as a wrong signature: one byte more is
    read, and its presence is the answer."""
    request.max_content_length = MAX_BODY_BYTES + 1
    payload = request.get_data(cache=False)
    if len(payload) > MAX_BODY_BYTES:
        abort(413, "the body is too large for a Stripe event")
    return payload


def _parsed(offer, call):
    """The checked value of one planned call (raises IngestError, writing nothing)."""
    return parse_call(call.kind, call.body, offer)


def _note(event_type: str | None = None, result: str | None = None) -> None:
    """What the offer's page will show of this call (``_record_call`` writes it with the answer's status)."""
    call = g.get("stripe_call")
    if call is not None:
        call.update({name: value for name, value in (("event_type", event_type), ("result", result)) if value})


def _described(body: dict) -> str:
    """One result of the ingest answer, in a few words."""
    if body.get("duplicate"):
        return f"duplicate of {body['event']} {body['txid']}"
    if body.get("pending"):
        return f"{body['event']} {body['txid']} kept until its payment arrives"
    return f"recorded {body['event']} {body['txid']} ({'attributed' if body['attributed'] else 'not attributed'})"


@bp.post("/<offer_slug>")
def receive(offer_slug: str):
    offer = find_offer(offer_slug)
    if offer is None:
        return error(404, f"no offer {offer_slug!r}")
    g.stripe_call = {"offer": offer, "event_type": "", "result": ""}
    secret = get_offer_secret(offer, SECRET_NAME)
    if not secret:
        _note(result="refused: no signing secret is saved for this offer")
        why = "save it on the offer's Stripe page (or with `affnet stripe set-secret`)"
        return error(404, f"offer {offer_slug!r} has no Stripe signing secret: {why}")
    event, why = _verified_event(_payload(), secret)
    if event is None:
        _note(result=f"refused: {why}")
        return error(400, why)
    _note(event_type=str(event.get("type") or ""))
    summary = {"received": True, "stripe_event": event.get("id"), "type": event.get("type")}
    plan = translate(event)
    if plan.ignored:
        log.info("stripe event %r (%r) ignored: %s", event.get("id"), event.get("type"), plan.ignored)
        _note(result=f"ignored: {plan.ignored}")
        return jsonify({**summary, "ignored": plan.ignored, "results": []}), 200
    values = [_parsed(offer, call) for call in plan.calls]
    outcomes = [record(offer, value, SOURCE) for value in values]
    _note(result="; ".join(_described(outcome.body) for outcome in outcomes))
    g.txid = outcomes[0].body["txid"]
    status = outcomes[0].http_status if len(outcomes) == 1 else 200
    return jsonify({**summary, "results": [outcome.body for outcome in outcomes]}), status


@bp.after_request
def _record_call(response):
    """Every answer to a known offer, error handlers' included, goes to the offer's page."""
    call = g.pop("stripe_call", None)
    if call is not None:
        result = call["result"] or ("error: nothing was recorded" if response.status_code >= 500 else "")
        record_webhook_call(call["offer"], SOURCE, response.status_code, call["event_type"], result)
    return response


@bp.errorhandler(PayloadError)
@bp.errorhandler(IngestError)
def _unusable(exc):
    fields = "".join(f"; {name} {why}" for name, why in exc.fields.items())
    _note(result=f"refused: {exc}{fields}")
    return error(422, str(exc), exc.fields)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    _note(result=f"refused: {exc.description or 'bad request'}")
    return error(exc.code or 400, exc.description or "bad request")
