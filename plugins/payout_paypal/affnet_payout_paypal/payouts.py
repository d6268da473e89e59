"""``send`` and ``poll`` of the ``paypal`` payout method.

``send`` makes one PayPal payout batch of one item per affnet payout. The
payout's idempotency key is both the batch's ``sender_batch_id`` and the
request's ``PayPal-Request-Id``, so a send repeated after a crash or a
timeout never makes a second batch. What that relies on, in PayPal's words
(see the package docstring for the pages):

1. A POST repeated with a ``PayPal-Request-Id`` PayPal still holds (30 days)
   is answered with the first request's result: the same
   ``payout_batch_id``.
2. A ``sender_batch_id`` used in the last 30 days is refused "with an error
   message that shows the duplicate sender_batch_id and includes a HATEOAS
   link to the original payout" (HTTP 400 ``USER_BUSINESS_ERROR``, detail
   ``SENDER_BATCH_ID``, "Batch with given sender_batch_id already exists").
   The batch of that link is read back and, when its item is this payout
   (receiver, amount, currency, ``sender_item_id``), its id is returned as
   ``sent``. A batch whose item pays something else (another affnet
   database paying from the same PayPal account reuses payout ids) is
   ``failed``: nothing was paid for this payout. A refusal without a link,
   or a batch whose item cannot be read, is ``retry``: the payout may exist,
   so nothing new is sent, and the operator reads why. Once PayPal has said
   that a batch exists, no other fault makes it ``failed``.

A network fault, a timeout, a 5xx, 408, 409 or 429 is ``retry`` (the same
request is made again later). Any other refusal (``INSUFFICIENT_FUNDS``, a
validation error, refused credentials) is ``failed`` with PayPal's message.

``poll`` reads the batch (``GET /v1/payments/payouts/{id}``) and its item's
``transaction_status``: SUCCESS is ``completed``; FAILED, RETURNED, BLOCKED,
REFUNDED and REVERSED (and a DENIED or CANCELED batch) are ``failed`` with
the status and PayPal's reason; PENDING, ONHOLD, NEW and a batch still
PENDING or PROCESSING are ``sent``. UNCLAIMED (the email has no PayPal
account, or an unconfirmed one) is ``failed``, by choice: PayPal holds the
money 30 days for a claim, then returns it to the operator. The operator
cancels the payout, so its amount goes back to the affiliate's balance for
a corrected email, and cancels the unclaimed item in PayPal too (the
``note`` says so, with the item's id), so that it cannot be claimed on top.
A poll that cannot read the batch (no answer, a refused token, an error
status) is ``sent`` with the reason in ``error``: the payout stays with
PayPal and is polled again; it is never ``failed`` for it. A poll with no
batch id (none was recorded) is ``retry``, so that the payout is sent again
with its key, which finds the batch.

No text returned or logged holds the client secret or an access token.
"""

import logging
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from affnet.plugins import PayoutRequest, PayoutResult

from .client import Answer, PayPalClient, Unreachable
from .recipient import CURRENCIES, email_of, paypal_value, validate
from .tokens import App, TokenError

log = logging.getLogger(__name__)

SANDBOX = "https://api-m.sandbox.paypal.com"
LIVE = "https://api-m.paypal.com"
DEFAULT_SUBJECT = "You have a payout"
DEFAULT_TIMEOUT = 30.0
PAYOUTS = "/v1/payments/payouts"

COMPLETED = {"SUCCESS"}
FAILED = {"FAILED", "RETURNED", "BLOCKED", "REFUNDED", "REVERSED"}
WAITING = {"PENDING", "ONHOLD", "NEW"}
BATCH_REFUSED = {"DENIED", "CANCELED"}
RETRY_STATUSES = {408, 409, 429}


def app_of(config: dict[str, Any]) -> App | None:
    """The operator's app from the plugin's config and credentials; None
    when the client id or secret is not set."""
    client_id = str(config.get("client_id") or "").strip()
    secret = str(config.get("client_secret") or "").strip()
    if not client_id or not secret:
        return None
    base_url = str(config.get("base_url") or SANDBOX).strip().rstrip("/")
    timeout = config.get("affnet.timeout_seconds") or DEFAULT_TIMEOUT
    return App(base_url, client_id, secret, float(timeout))


NO_APP = "the PayPal client id and secret are not set: set them with affnet payouts credentials"


def send(request: PayoutRequest, config: dict[str, Any]) -> PayoutResult:
    """Pay ``request`` with one PayPal batch; safe to call again with the same request."""
    app = app_of(config)
    if app is None:
        return PayoutResult("failed", error=NO_APP)
    if request.currency not in CURRENCIES:
        return PayoutResult("failed", error=f"PayPal payouts are not made in {request.currency} by affnet")
    if validate(request.details):
        return PayoutResult("failed", error=f"{email_of(request.details)!r} is not a PayPal email address")
    value = paypal_value(request.amount, request.currency)
    if value is None:
        return PayoutResult("failed", error=f"{request.amount} {request.currency} is not an amount PayPal can pay")
    body: dict[str, Any] = {
        "sender_batch_header": {
            "sender_batch_id": request.idempotency_key,
            "email_subject": str(config.get("email_subject") or DEFAULT_SUBJECT),
        },
        "items": [
            {
                "recipient_type": "EMAIL",
                "receiver": email_of(request.details),
                "amount": {"value": value, "currency": request.currency},
                "sender_item_id": str(request.payout_id),
                "note": request.reference,
            }
        ],
    }
    try:
        with PayPalClient(app) as client:
            answer = client.call("POST", PAYOUTS, json=body, headers={"PayPal-Request-Id": request.idempotency_key})
            return _masked(_sent(answer, request, body["items"][0], client), app)
    except Unreachable as error:
        return PayoutResult("retry", error=_mask(str(error), app))
    except TokenError as error:
        return PayoutResult("retry" if error.retry else "failed", error=_mask(str(error), app))


def _sent(answer: Answer, request: PayoutRequest, item: dict[str, Any], client: PayPalClient) -> PayoutResult:
    """What PayPal's answer to the create-payout POST means."""
    if answer.status in (200, 201):
        header = answer.body.get("batch_header") or {}
        batch_id = header.get("payout_batch_id")
        if not isinstance(batch_id, str) or not batch_id:
            return PayoutResult("retry", error="PayPal took the payout but named no payout_batch_id")
        if header.get("batch_status") in BATCH_REFUSED:
            return PayoutResult("failed", external_id=batch_id, error=f"PayPal {header['batch_status']} the batch")
        return PayoutResult("sent", external_id=batch_id)
    if _is_duplicate(answer):
        return _earlier_batch(answer, request, item, client)
    if answer.status >= 500 or answer.status in RETRY_STATUSES:
        return PayoutResult("retry", error=f"PayPal answered HTTP {answer.status}: {said(answer.body)}")
    return PayoutResult("failed", error=f"PayPal refused the payout (HTTP {answer.status}): {said(answer.body)}")


def _is_duplicate(answer: Answer) -> bool:
    """Whether PayPal refused the batch because its sender_batch_id was used."""
    if not 400 <= answer.status < 500:
        return False
    if str(answer.body.get("name", "")).upper() in ("DUPLICATE_REQUEST_ID", "DUPLICATE_SENDER_BATCH_ID"):
        return True
    for detail in _details(answer.body):
        field = str(detail.get("field", "")).lower()
        issue = str(detail.get("issue", "")).lower()
        if field.endswith("sender_batch_id") and ("already" in issue or "duplicate" in issue):
            return True
    return False


def _earlier_batch(answer: Answer, request: PayoutRequest, item: dict[str, Any], client: PayPalClient) -> PayoutResult:
    """The batch an earlier send made with this key, read from the refusal's link."""
    key = request.idempotency_key
    batch_id = _linked_batch(answer.body)
    if batch_id is None:
        return PayoutResult(
            "retry",
            error=f"PayPal says a batch with sender_batch_id {key} already exists but does not link it: "
            "find it in PayPal's activity; affnet sends nothing new for this payout",
        )
    try:
        found = client.call("GET", f"{PAYOUTS}/{quote(batch_id, safe='')}")
    except TokenError as error:  # a batch exists: whatever the token says, this is never "failed"
        return PayoutResult("retry", error=str(error))
    if found.status != 200:
        return PayoutResult("retry", error=f"reading PayPal batch {batch_id}: HTTP {found.status}: {said(found.body)}")
    theirs = (_item(found.body, str(request.payout_id)) or {}).get("payout_item")
    same = _same_item(theirs, item) if isinstance(theirs, dict) else None
    if same is None:
        return PayoutResult(
            "retry",
            error=f"PayPal batch {batch_id} has this payout's sender_batch_id {key} but no item affnet can read: "
            "check it in PayPal's activity; affnet sends nothing new for this payout",
        )
    if not same:
        return PayoutResult(
            "failed",
            error=f"PayPal already has a batch {batch_id} with sender_batch_id {key} that pays something else "
            "(another affnet database paying from this PayPal account?): nothing was paid for this payout",
        )
    log.warning("PayPal already had payout batch %s for %s: an earlier send made it", batch_id, key)
    return PayoutResult("sent", external_id=batch_id, note=f"found PayPal batch {batch_id}, made by an earlier send")


def _same_item(theirs: dict[str, Any], ours: dict[str, Any]) -> bool | None:
    """Whether PayPal's item pays what this payout pays (receiver, amount,
    currency, sender_item_id); None when it does not say."""
    amount = theirs.get("amount")
    fields = (theirs.get("receiver"), theirs.get("sender_item_id"))
    if not isinstance(amount, dict) or not all(isinstance(value, str) for value in (*fields, amount.get("currency"))):
        return None
    try:
        value = Decimal(str(amount.get("value")))
    except ArithmeticError:
        return None
    return (
        value == Decimal(ours["amount"]["value"])
        and amount["currency"] == ours["amount"]["currency"]
        and theirs["receiver"].lower() == ours["receiver"].lower()
        and theirs["sender_item_id"] == ours["sender_item_id"]
    )


def poll(request: PayoutRequest, config: dict[str, Any]) -> PayoutResult:
    """Where the payout batch ``request.external_id`` stands at PayPal."""
    app = app_of(config)
    if app is None:
        return PayoutResult("sent", external_id=request.external_id, error=NO_APP)
    if not request.external_id:
        return PayoutResult("retry", error="no PayPal batch id is recorded for this payout yet")
    batch_id = request.external_id
    try:
        with PayPalClient(app) as client:
            answer = client.call("GET", f"{PAYOUTS}/{quote(batch_id, safe='')}")
    except (Unreachable, TokenError) as error:
        return PayoutResult("sent", external_id=batch_id, error=_mask(str(error), app))
    if answer.status != 200:
        why = f"reading PayPal batch {batch_id}: HTTP {answer.status}: {said(answer.body)}"
        return PayoutResult("sent", external_id=batch_id, error=_mask(why, app))
    return _masked(_standing(answer.body, request), app)


def _standing(body: dict[str, Any], request: PayoutRequest) -> PayoutResult:
    batch_id = request.external_id
    batch_status = str((body.get("batch_header") or {}).get("batch_status") or "")
    item = _item(body, str(request.payout_id)) or {}
    status = str(item.get("transaction_status") or "")
    errors = item.get("errors")
    errors = errors if isinstance(errors, dict) else {}
    reason = str(errors.get("message") or errors.get("name") or "")
    if status in COMPLETED:
        return PayoutResult("completed", external_id=batch_id)
    if status in FAILED:
        return PayoutResult(
            "failed", external_id=batch_id, error=f"{status} at PayPal" + (f": {reason}" if reason else "")
        )
    if status == "UNCLAIMED":
        item_id = item.get("payout_item_id") or "?"
        return PayoutResult(
            "failed",
            external_id=batch_id,
            error=f"UNCLAIMED at PayPal: {email_of(request.details)} has no PayPal account (or has not confirmed it); "
            "PayPal returns the money to the operator after 30 days unclaimed" + (f" ({reason})" if reason else ""),
            note=f"cancel the unclaimed PayPal item {item_id} (PayPal activity, or POST "
            f"/v1/payments/payouts-item/{item_id}/cancel) before paying this amount again, "
            "so that it cannot be claimed on top",
        )
    if batch_status in BATCH_REFUSED:
        return PayoutResult("failed", external_id=batch_id, error=f"PayPal {batch_status} the batch")
    if status and status not in WAITING:
        return PayoutResult("sent", external_id=batch_id, note=f"PayPal status {status}, not known to affnet")
    return PayoutResult("sent", external_id=batch_id)


def _item(body: dict[str, Any], sender_item_id: str) -> dict[str, Any] | None:
    """The batch's item for this payout (its ``sender_item_id``), else its first one."""
    items = [item for item in body.get("items") or [] if isinstance(item, dict)]
    for item in items:
        if str((item.get("payout_item") or {}).get("sender_item_id", "")) == sender_item_id:
            return item
    return items[0] if items else None


def _details(body: dict[str, Any]) -> list[dict[str, Any]]:
    details = body.get("details")
    return [detail for detail in details if isinstance(detail, dict)] if isinstance(details, list) else []


def _linked_batch(body: dict[str, Any]) -> str | None:
    """The payout batch id of the first ``/v1/payments/payouts/{id}`` link in
    a refusal (its details' ``link``, or its ``links``)."""
    links = [link for detail in _details(body) for link in (detail.get("link") or detail.get("links") or [])]
    links += body.get("links") or []
    for link in links:
        href = str(link.get("href", "")) if isinstance(link, dict) else ""
        path = href.split("?")[0].split("#")[0].rstrip("/")
        head, _, batch_id = path.rpartition("/")
        if head.endswith(PAYOUTS) and batch_id.isalnum():
            return batch_id
    return None


def said(body: dict[str, Any]) -> str:
    """PayPal's own words in an error body: name, message, each detail's issue, debug id."""
    parts = [str(body[key]) for key in ("name", "message") if body.get(key)]
    parts += [str(body[key]) for key in ("error", "error_description") if body.get(key)]
    issues = [
        f"{detail['field']}: {detail.get('issue', '')}" if detail.get("field") else str(detail.get("issue", ""))
        for detail in _details(body)
    ]
    text = ": ".join(parts) or "no error body"
    if issues:
        text += f" ({'; '.join(issues)})"
    if body.get("debug_id"):
        text += f" [debug id {body['debug_id']}]"
    return text


def _mask(text: str, app: App) -> str:
    return text.replace(app.client_secret, "[client secret]")


def _masked(result: PayoutResult, app: App) -> PayoutResult:
    """``result`` with the secret masked out of its texts (PayPal may echo what it was sent)."""
    return PayoutResult(result.outcome, result.external_id, _mask(result.error, app), _mask(result.note, app))
