"""A local stand-in for PayPal's REST API: the OAuth2 token endpoint and
Payouts v1 (create a batch, show a batch), on 127.0.0.1 and a free port.

It speaks the documented shapes (see ``affnet_payout_paypal``'s package
docstring for the pages) and keeps what a test needs to count::

    with FakePayPal() as fake:
        config = fake.config()          # base_url, client_id, client_secret, affnet.timeout_seconds
        result = payouts.send(request, config)
        assert len(fake.batches) == 1   # every batch created, in order (``Batch``)
        fake.set_item_status(fake.batches[0].id, "SUCCESS")

What it does, like PayPal:

- ``POST /v1/oauth2/token``: checks HTTP basic auth against ``clients``
  (``client_id`` → secret) and ``grant_type=client_credentials``; issues a
  token valid ``token_lifetime`` seconds (settable; PayPal's are about nine
  hours). ``token_calls`` counts the calls, ``issued_tokens`` lists the tokens.
  A wrong id or secret gets 401 ``invalid_client``.
- Any other call needs ``Authorization: Bearer <token>``: a token that
  expired, or that ``expire_tokens()`` revoked, gets 401 ``invalid_token``
  ("Access Token not found in cache"), as PayPal answers it.
- ``POST /v1/payments/payouts``: validates the body (``sender_batch_header``
  with ``sender_batch_id``; 1 to 15,000 ``items`` with ``recipient_type``,
  ``receiver``, ``amount {value, currency}``, lengths as documented); the
  amount must carry exactly the currency's decimals (PayPal also takes
  fewer: this check is the fake's, to hold affnet to minor units). A
  ``PayPal-Request-Id`` seen before gets the first request's batch again
  (201, its latest status), whatever the body; a ``sender_batch_id`` used
  before, under another or no request id, gets 400 ``USER_BUSINESS_ERROR``
  with a ``SENDER_BATCH_ID`` detail linking the original batch. Otherwise it
  stores a ``Batch`` (status PENDING, its item ``new_item_status``), calls
  ``on_create_payout(batch)`` and answers 201.
- ``GET /v1/payments/payouts/{id}``: the batch with its item(s) and their
  ``transaction_status``; 404 ``INVALID_RESOURCE_ID`` for an unknown id.

Switches: ``refuse(422, "INSUFFICIENT_FUNDS")`` makes every new create
answer that error (stores nothing) until ``refusal = None``;
``outage = 503`` answers every call with that status; ``delay_seconds``
sleeps before each answer; ``forget_request_ids()`` drops PayPal's memory
of request ids (as after 30 days, or as the sandbox that ignores them), so
only the ``sender_batch_id`` check is left; ``link_duplicates = False``
leaves the link to the original batch out of that check's refusal.

``on_create_payout`` (for crash tests): a callable that gets the new
``Batch`` after it is stored (so it is in ``batches`` and a repeated
request finds it) and before the 201 is written, in the server's request
thread. It may block (a worker killed meanwhile never sees the answer;
release it afterwards so the thread ends), or raise ``DropAnswer`` to close
the connection with no answer at all: PayPal made the batch, the caller
never heard. Any other exception becomes a 500 and is kept in
``hook_errors``. ``Hold`` is the blocking one, ready made::

    fake.on_create_payout = hold = Hold()
    worker = start_the_worker(fake.config())   # it sends payout 42 to fake.base
    assert hold.entered.wait(10)               # PayPal made the batch; its 201 waits
    worker.kill()                              # affnet never records the answer
    hold.release()
    run_the_worker_again()                     # same key: PayPal answers with the first batch
    assert len(fake.batches) == 1              # one payment
    assert len(fake.calls("POST")) == 2        # two creates, both with PayPal-Request-Id affnet-payout-42
"""

import base64
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

PAYOUTS = "/v1/payments/payouts"
ZERO_DIGIT = {"JPY", "HUF", "TWD"}  # PayPal's zero-digit currencies
ERRORS_LINK = "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors"
MESSAGES = {
    "INSUFFICIENT_FUNDS": "Sender does not have sufficient funds. Please add funds and retry.",
    "VALIDATION_ERROR": "Invalid request - see details",
    "INTERNAL_SERVER_ERROR": "An internal server error occurred.",
}
# The item errors the fake gives with a status when the test names none (PayPal's words where
# its sandbox answers are published: RECEIVER_UNREGISTERED; the others are the fake's).
ITEM_ERRORS = {
    "UNCLAIMED": (
        "RECEIVER_UNREGISTERED",
        "The recipient for this payout does not have an account. A link to sign up for an account was sent "
        "to the recipient. However, if the recipient does not claim this payout within 30 days, the funds "
        "will be returned to your account.",
    ),
    "RETURNED": ("RECEIVER_UNREGISTERED", "The payout was not claimed within 30 days and was returned to the sender."),
    "FAILED": ("RECEIVER_ACCOUNT_INVALID", "The receiver's account is invalid."),
    "BLOCKED": ("RECEIVER_ACCOUNT_LOCKED", "The receiver's account is locked or inactive."),
}


class DropAnswer(Exception):
    """Raised by ``on_create_payout``: close the connection without answering."""


class Hold:
    """An ``on_create_payout`` that holds each create's answer until
    ``release()`` (or ``timeout`` seconds, so no thread outlives a test).
    ``entered`` is set once a create is held; ``held`` lists their batches."""

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self.entered = threading.Event()
        self.held: list[Batch] = []
        self._released = threading.Event()

    def __call__(self, batch: "Batch") -> None:
        self.held.append(batch)
        self.entered.set()
        self._released.wait(self.timeout)

    def release(self) -> None:
        self._released.set()


@dataclass
class Batch:
    """One payout batch the fake created. ``body`` is the request as sent
    (amounts as ``Decimal``); ``items`` are PayPal's item records."""

    id: str
    sender_batch_id: str
    request_id: str | None
    body: dict[str, Any]
    items: list[dict[str, Any]]
    status: str = "PENDING"
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


@dataclass
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _id(length: int = 13) -> str:
    return "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))


def error_body(name: str, message: str | None = None, details: list | None = None, links: list | None = None) -> dict:
    """PayPal's error shape."""
    return {
        "name": name,
        "message": message or MESSAGES.get(name, name),
        "debug_id": secrets.token_hex(6),
        "information_link": ERRORS_LINK,
        "details": details or [],
        "links": links or [],
    }


class FakePayPal:
    """PayPal on 127.0.0.1; use it as a context manager (``base`` is its URL)."""

    def __init__(self, token_lifetime: float = 32400):
        self.client_id = "AFake" + secrets.token_urlsafe(24)
        self.client_secret = "EFake" + secrets.token_urlsafe(32)
        self.clients = {self.client_id: self.client_secret}
        self.token_lifetime = token_lifetime
        self.new_item_status = "PENDING"
        self.batches: list[Batch] = []
        self.requests: list[Seen] = []
        self.issued_tokens: list[str] = []
        self.refused: list[tuple[str, bytes]] = []  # (why, body) of creates refused as invalid
        self.hook_errors: list[BaseException] = []
        self.server_errors: list[BaseException] = []  # the fake's own faults (a test's fixture checks it is empty)
        self.on_create_payout: Callable[[Batch], None] | None = None
        self.refusal: tuple[int, dict] | None = None
        self.outage: int | None = None
        self.delay_seconds = 0.0
        self.link_duplicates = True
        self._tokens: dict[str, float] = {}
        self._by_request_id: dict[str, Batch] = {}
        self._by_sender_batch_id: dict[str, Batch] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.base = ""

    # -- for tests -------------------------------------------------------------------------

    def config(self, **extra: Any) -> dict[str, Any]:
        """The plugin's ``config`` for this fake: its URL and its app's credentials."""
        return {
            "base_url": self.base,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "affnet.timeout_seconds": 5.0,
            **extra,
        }

    @property
    def token_calls(self) -> int:
        return sum(1 for seen in self.requests if seen.path == "/v1/oauth2/token")

    def calls(self, method: str, path_prefix: str = PAYOUTS) -> list[Seen]:
        """The requests received with this method under this path."""
        return [seen for seen in self.requests if seen.method == method and seen.path.startswith(path_prefix)]

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        with self._lock:
            self._tokens.clear()

    def forget_request_ids(self) -> None:
        with self._lock:
            self._by_request_id.clear()

    def refuse(self, status: int = 422, name: str = "INSUFFICIENT_FUNDS", message: str | None = None) -> None:
        """Answer every new create payout with this error (until ``refusal = None``)."""
        self.refusal = (status, error_body(name, message))

    def set_item_status(self, batch_id: str, status: str, name: str | None = None, message: str | None = None):
        """Move the batch's item(s) to ``status`` (SUCCESS, UNCLAIMED, RETURNED…), with
        PayPal's ``errors`` for a status that has them; the batch is then SUCCESS
        (processed), or PROCESSING while the item is PENDING."""
        with self._lock:
            batch = next(batch for batch in self.batches if batch.id == batch_id)
            default_name, default_message = ITEM_ERRORS.get(status, (None, None))
            for item in batch.items:
                item["transaction_status"] = status
                item.pop("errors", None)
                if name or default_name:
                    item["errors"] = {
                        "name": name or default_name,
                        "message": message or default_message or name,
                        "information_link": ERRORS_LINK,
                        "details": [],
                    }
            batch.status = "PROCESSING" if status == "PENDING" else "SUCCESS"

    # -- the server ------------------------------------------------------------------------

    def __enter__(self) -> "FakePayPal":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

            def log_message(self, *args):  # keep test output quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                error = sys.exc_info()[1]
                if not isinstance(error, ConnectionError):  # a caller that hung up is no fault of the fake's
                    fake.server_errors.append(error)

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = handler.path.split("?")[0]
        self.requests.append(Seen(method, path, {k.lower(): v for k, v in handler.headers.items()}, raw))
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        try:
            status, body = self._answer(method, path, handler.headers, raw)
        except DropAnswer:
            handler.close_connection = True
            return
        out = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(out)))
        handler.send_header("Paypal-Debug-Id", secrets.token_hex(6))
        handler.end_headers()
        handler.wfile.write(out)

    def _answer(self, method: str, path: str, headers, raw: bytes) -> tuple[int, dict]:
        if self.outage:
            return self.outage, error_body("INTERNAL_SERVER_ERROR")
        if method == "POST" and path == "/v1/oauth2/token":
            return self._token(headers, raw)
        refused = self._check_bearer(headers)
        if refused:
            return refused
        if method == "POST" and path == PAYOUTS:
            return self._create(headers, raw)
        match = re.fullmatch(rf"{PAYOUTS}/([^/]+)", path)
        if method == "GET" and match:
            return self._show(match.group(1))
        return 404, error_body("NOT_FOUND", "The specified resource does not exist.")

    def _token(self, headers, raw: bytes) -> tuple[int, dict]:
        scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        if scheme != "Basic" or self.clients.get(client_id) != secret or not secret:
            return 401, {"error": "invalid_client", "error_description": "Client Authentication failed"}
        form = parse_qs(raw.decode())
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
        token = "A21AA" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
            self.issued_tokens.append(token)
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payouts https://uri.paypal.com/payments/payouts",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": int(self.token_lifetime),
            "nonce": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + secrets.token_urlsafe(16),
        }

    def _check_bearer(self, headers) -> tuple[int, dict] | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer" or not token:
            return 401, error_body(
                "AUTHENTICATION_FAILURE",
                "Authentication failed due to missing authorization header, or invalid authentication credentials.",
            )
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or time.monotonic() >= expires:
            return 401, {"error": "invalid_token", "error_description": "Access Token not found in cache"}
        return None

    def _create(self, headers, raw: bytes) -> tuple[int, dict]:
        request_id = headers.get("PayPal-Request-Id")
        with self._lock:
            earlier = self._by_request_id.get(request_id) if request_id else None
        if earlier is not None:
            return 201, self._created(earlier)
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return 415, error_body(
                "UNSUPPORTED_MEDIA_TYPE", "The server does not support the request payload's media type."
            )
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            body = None
        fault = _fault(body)
        if fault:
            self.refused.append((fault[1], raw))
            return 400, error_body(
                "VALIDATION_ERROR", details=[{"field": fault[0], "location": "body", "issue": fault[1]}]
            )
        if self.refusal:
            return self.refusal
        sender_batch_id = body["sender_batch_header"]["sender_batch_id"]
        with self._lock:
            original = self._by_sender_batch_id.get(sender_batch_id)
            if original is None:
                batch = self._store(sender_batch_id, request_id, body)
        if original is not None:
            return 400, error_body(
                "USER_BUSINESS_ERROR",
                "User business error.",
                details=[
                    {
                        "field": "SENDER_BATCH_ID",
                        "location": "body",
                        "issue": "Batch with given sender_batch_id already exists",
                        **(
                            {"link": [{"href": f"{self.base}{PAYOUTS}/{original.id}", "rel": "self", "method": "GET"}]}
                            if self.link_duplicates
                            else {}
                        ),
                    }
                ],
            )
        if self.on_create_payout is not None:
            try:
                self.on_create_payout(batch)
            except DropAnswer:
                raise
            except Exception as error:  # a test's hook failed: say so as PayPal would, keep it for the test
                self.hook_errors.append(error)
                return 500, error_body("INTERNAL_SERVER_ERROR")
        return 201, self._created(batch)

    def _store(self, sender_batch_id: str, request_id: str | None, body: dict) -> Batch:
        """A new batch (call with the lock held)."""
        batch_id = _id()
        header = body["sender_batch_header"]
        items = [
            {
                "payout_item_id": _id(),
                "transaction_status": self.new_item_status,
                "payout_item_fee": {"currency": item["amount"]["currency"], "value": "0.00"},
                "payout_batch_id": batch_id,
                "payout_item": {
                    "recipient_type": item.get("recipient_type") or header.get("recipient_type"),
                    "amount": {"currency": item["amount"]["currency"], "value": str(item["amount"]["value"])},
                    "note": item.get("note", ""),
                    "receiver": item["receiver"],
                    "sender_item_id": item.get("sender_item_id", ""),
                    "recipient_wallet": "PAYPAL",
                },
            }
            for item in body["items"]
        ]
        batch = Batch(batch_id, sender_batch_id, request_id, body, items)
        self.batches.append(batch)
        self._by_sender_batch_id[sender_batch_id] = batch
        if request_id:
            self._by_request_id[request_id] = batch
        return batch

    def _header(self, batch: Batch) -> dict:
        header = batch.body["sender_batch_header"]
        return {
            "payout_batch_id": batch.id,
            "batch_status": batch.status,
            "time_created": batch.created,
            "sender_batch_header": {
                "sender_batch_id": batch.sender_batch_id,
                "email_subject": header.get("email_subject", ""),
            },
        }

    def _created(self, batch: Batch) -> dict:
        with self._lock:
            header = self._header(batch)
        return {
            "batch_header": header,
            "links": [{"href": f"{self.base}{PAYOUTS}/{batch.id}", "rel": "self", "method": "GET"}],
        }

    def _show(self, batch_id: str) -> tuple[int, dict]:
        with self._lock:
            batch = next((batch for batch in self.batches if batch.id == batch_id), None)
            if batch is None:
                return 404, error_body("INVALID_RESOURCE_ID", "Requested resource ID was not found.")
            header = self._header(batch)
            items = [
                {
                    **json.loads(json.dumps(item)),
                    "links": [
                        {
                            "href": f"{self.base}/v1/payments/payouts-item/{item['payout_item_id']}",
                            "rel": "item",
                            "method": "GET",
                        }
                    ],
                }
                for item in batch.items
            ]
        if items:
            total = sum(Decimal(item["payout_item"]["amount"]["value"]) for item in items)
            header["amount"] = {"currency": items[0]["payout_item"]["amount"]["currency"], "value": str(total)}
            header["fees"] = {"currency": header["amount"]["currency"], "value": "0.00"}
        return 200, {"total_items": len(items), "total_pages": 1, "batch_header": header, "items": items, "links": []}


def _fault(body: Any) -> tuple[str, str] | None:
    """(field, issue) of the first thing PayPal's schema refuses in a create body."""
    if not isinstance(body, dict):
        return "body", "MALFORMED_REQUEST_JSON"
    header = body.get("sender_batch_header")
    if not isinstance(header, dict):
        return "sender_batch_header", "Required field is missing"
    sender_batch_id = header.get("sender_batch_id")
    if not isinstance(sender_batch_id, str) or not sender_batch_id or len(sender_batch_id) > 256:
        return "sender_batch_header.sender_batch_id", "must be a string of 1 to 256 characters"
    if len(str(header.get("email_subject", ""))) > 255:
        return "sender_batch_header.email_subject", "must be at most 255 characters"
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 15000:
        return "items", "must hold 1 to 15000 payout items"
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            return where, "must be an object"
        recipient_type = item.get("recipient_type") or header.get("recipient_type")
        if recipient_type not in ("EMAIL", "PHONE", "PAYPAL_ID"):
            return f"{where}.recipient_type", "must be EMAIL, PHONE or PAYPAL_ID"
        receiver = item.get("receiver")
        if not isinstance(receiver, str) or not receiver or len(receiver) > 127:
            return f"{where}.receiver", "Receiver is invalid or does not match with type"
        if recipient_type == "EMAIL" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", receiver):
            return f"{where}.receiver", "Receiver is invalid or does not match with type"
        if len(str(item.get("sender_item_id", ""))) > 63 or len(str(item.get("note", ""))) > 4000:
            return where, "sender_item_id (63) or note (4000) is too long"
        amount = item.get("amount")
        if not isinstance(amount, dict) or not isinstance(amount.get("currency"), str):
            return f"{where}.amount", "Required field is missing"
        value, currency = amount.get("value"), amount["currency"]
        decimals = 0 if currency in ZERO_DIGIT else 2
        shape = r"[0-9]+" if decimals == 0 else rf"[0-9]+\.[0-9]{{{decimals}}}"
        if not isinstance(value, str) or not re.fullmatch(shape, value) or Decimal(value) <= 0:
            return f"{where}.amount.value", f"must be a positive decimal string with {decimals} decimals for {currency}"
    return None
