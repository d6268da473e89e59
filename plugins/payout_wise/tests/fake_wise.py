"""A fake Wise API on 127.0.0.1 that speaks the documented shapes of the
calls a payout makes, keeps count of what it did, and can be told to misbehave.

    with FakeWise() as fake:                      # a free port; fake.base is its URL
        config = {"base_url": fake.base, "api_token": fake.token, "profile_id": 0}
        ...
        assert len(fake.transfers) == 1 and fake.fundings == [transfer_id]

Routes: ``GET /v2/profiles`` (a personal and a business profile), ``POST
/v3/profiles/{id}/quotes``, ``POST /v1/accounts`` (iban and email
recipients), ``POST /v1/transfers``, ``GET /v1/transfers/{id}`` and ``POST
/v3/profiles/{id}/transfers/{id}/payments``. Every request needs
``Authorization: Bearer <fake.token>`` (401 ``{"error": "invalid_token",
"error_description": <the token sent>}`` otherwise, as Wise echoes it). A
body that breaks the documented shape is refused with 400 and Wise's error
shape ``{"errors": [{"code", "message", "path", "arguments"}]}``.

What it records, for tests to count payments (read them once the calls
returned; ``fake.lock`` guards them while calls are in flight):

- ``transfers``: ``{id: transfer}`` of every transfer made. A creation with a
  ``customerTransactionId`` already used answers that transfer again and
  adds nothing, as Wise does: one id, one transfer.
- ``fundings``: the id of the transfer of every funding accepted, in order.
  Funding a transfer that is no longer ``incoming_payment_waiting`` is
  refused (422 ``transfer.invalid-state``), so a transfer appears here once.
- ``quotes``, ``accounts`` (by id) and ``requests`` (``(method, path)``, in order).

Switches:

- ``fund_forbidden = True``: funding answers 403 with
  ``x-2fa-approval-result: REJECTED``, as for personal tokens of EU and UK
  accounts (PSD2 strong customer authentication).
- ``balance_short = True``: funding answers 200 ``{"status": "REJECTED",
  "errorCode": "transfer.insufficient_funds"}``.
- ``set_status(transfer_id, status)``: Wise moves the transfer along
  (``outgoing_payment_sent``, ``bounced_back``, ...).
- ``refuse_recipient(value, message)``: creating a recipient whose IBAN
  or email is ``value`` answers 400 ``NOT_VALID`` with ``message``.
- ``outage(status=503, times=1, path=None, body=None)``: the next ``times``
  requests (to ``path`` only, if given) answer ``status`` with ``body``
  (default: a 503's) before doing anything.
- ``on_create_transfer``: a callable ``hook(transfer)`` called with a copy
  of a new transfer after it is stored and before the answer is written, in
  the server's thread (other requests go on meanwhile). A test may block in
  it (until its client has timed out, or its worker been killed); if it
  raises, the connection is closed without an answer: the transfer exists
  in Wise and the caller never heard of it.
- ``on_fund``: the same for a funding, called with a copy of the transfer
  once the funding is recorded (in ``fundings``) and before the answer.
"""

import json
import re
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from affnet_payout_wise.client import json_text

TOKEN = "wise-test-token-7c4d9e2a51f04b8e"
PERSONAL_PROFILE = 30000001
BUSINESS_PROFILE = 30000002
STATUSES = (
    "incoming_payment_waiting",
    "incoming_payment_initiated",
    "processing",
    "funds_converted",
    "outgoing_payment_sent",
    "cancelled",
    "funds_refunded",
    "bounced_back",
    "charged_back",
    "waiting_recipient_input_to_proceed",
    "unknown",
)
_CURRENCY = re.compile(r"[A-Z]{3}")


class HangUp(Exception):
    """The ``on_create_transfer`` hook raised: close the connection unanswered."""


class Refusal(Exception):
    """An answer other than 200: ``status``, JSON ``body`` and ``headers``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def invalid(path: str, message: str, code: str = "NOT_VALID", status: int = 400, value: Any = None) -> Refusal:
    arguments = [path] if value is None else [path, str(value)]
    return Refusal(status, {"errors": [{"code": code, "message": message, "path": path, "arguments": arguments}]})


def iban_checks(iban: str) -> bool:
    """ISO 13616 mod-97, written here apart from the plugin's own check."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", iban):
        return False
    return int("".join(str(int(char, 36)) for char in iban[4:] + iban[:4])) % 97 == 1


def is_amount(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value > 0


class FakeWise:
    """The fake Wise API; see the module's docstring."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.profiles = [
            {"id": PERSONAL_PROFILE, "type": "PERSONAL", "fullName": "Olivia Operator", "currentState": "VISIBLE"},
            {"id": BUSINESS_PROFILE, "type": "BUSINESS", "fullName": "Affnet Ltd", "currentState": "VISIBLE"},
        ]
        self.quotes: dict[str, dict[str, Any]] = {}
        self.accounts: dict[int, dict[str, Any]] = {}
        self.transfers: dict[int, dict[str, Any]] = {}
        self.fundings: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self.fund_forbidden = False
        self.balance_short = False
        self.on_create_transfer: Callable[[dict[str, Any]], Any] | None = None
        self.on_fund: Callable[[dict[str, Any]], Any] | None = None
        self.lock = threading.Lock()
        self._refused: dict[str, str] = {}
        self._outages: list[list[Any]] = []
        self._ids = iter(range(1, 10**9))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # a caller that hung up
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "FakeWise":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # switches

    def set_status(self, transfer_id: int | str, status: str) -> None:
        assert status in STATUSES, status
        with self.lock:
            self.transfers[int(transfer_id)]["status"] = status

    def refuse_recipient(self, value: str, message: str) -> None:
        self._refused[value.replace(" ", "")] = message

    def outage(self, status: int = 503, times: int = 1, path: str | None = None, body: Any = None) -> None:
        self._outages.append([status, times, path, body or {"error": "Service Unavailable", "status": status}])

    # the routes

    def answer(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append((method, path))
            for outage in self._outages:
                if outage[1] > 0 and outage[2] in (None, path):
                    outage[1] -= 1
                    return outage[0], outage[3], {}
        presented = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if presented != self.token:
            return 401, {"error": "invalid_token", "error_description": presented}, {}
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else None
        except ValueError:
            return 400, {"errors": [{"code": "NOT_VALID", "message": "Malformed JSON", "arguments": []}]}, {}
        try:
            if method == "GET" and path == "/v2/profiles":
                return 200, self.profiles, {}
            if method == "POST" and (match := re.fullmatch(r"/v3/profiles/(\d+)/quotes", path)):
                return 200, self.create_quote(int(match[1]), body), {}
            if method == "POST" and path == "/v1/accounts":
                return 200, self.create_account(body), {}
            if method == "POST" and path == "/v1/transfers":
                return 200, self.create_transfer(body), {}
            if method == "GET" and (match := re.fullmatch(r"/v1/transfers/(\d+)", path)):
                return 200, self.transfer(int(match[1])), {}
            if method == "POST" and (match := re.fullmatch(r"/v3/profiles/(\d+)/transfers/(\d+)/payments", path)):
                return 200, self.fund(int(match[1]), int(match[2]), body, path), {}
        except Refusal as refusal:
            return refusal.status, refusal.body, refusal.headers
        return 404, {"errors": [{"code": "not.found", "message": f"no route {method} {path}", "arguments": []}]}, {}

    def profile(self, profile_id: Any) -> int:
        if profile_id not in {profile["id"] for profile in self.profiles}:
            raise invalid("profile", "Profile not found", value=profile_id)
        return profile_id

    def create_quote(self, profile_id: int, body: Any) -> dict[str, Any]:
        self.profile(profile_id)
        if not isinstance(body, dict):
            raise invalid("body", "A JSON object is required")
        for name in ("sourceCurrency", "targetCurrency"):
            if not isinstance(body.get(name), str) or not _CURRENCY.fullmatch(body[name]):
                raise invalid(name, "Please provide a valid currency code", value=body.get(name))
        if ("sourceAmount" in body) == ("targetAmount" in body):
            raise invalid("targetAmount", "Either sourceAmount or targetAmount is required, never both")
        amount = body.get("targetAmount", body.get("sourceAmount"))
        if not is_amount(amount):
            raise invalid("targetAmount", "Please type in a number that's larger than 0.", "error.greaterThanZero")
        if "targetAccount" in body and body["targetAccount"] not in self.accounts:
            raise invalid("targetAccount", "Recipient not found", value=body["targetAccount"])
        quote = {
            "id": str(uuid.uuid4()),
            "sourceCurrency": body["sourceCurrency"],
            "targetCurrency": body["targetCurrency"],
            "sourceAmount": amount,
            "targetAmount": amount,
            "payOut": "BANK_TRANSFER",
            "preferredPayIn": body.get("preferredPayIn") or "BANK_TRANSFER",
            "rate": 1,
            "profile": profile_id,
            "rateType": "FIXED",
            "status": "PENDING",
            "targetAccount": body.get("targetAccount"),
        }
        with self.lock:
            self.quotes[quote["id"]] = quote
        return quote

    def create_account(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "A JSON object is required")
        self.profile(body.get("profile"))
        if not isinstance(body.get("accountHolderName"), str) or not body["accountHolderName"].strip():
            raise invalid("accountHolderName", "Please enter the recipients name", "NOT_NULL")
        if not isinstance(body.get("currency"), str) or not _CURRENCY.fullmatch(body["currency"]):
            raise invalid("currency", "Please provide a valid currency code", value=body.get("currency"))
        details = body.get("details")
        if not isinstance(details, dict):
            raise invalid("details", "must not be null", "NOT_NULL")
        if body.get("type") == "iban":
            if details.get("legalType") not in ("PRIVATE", "BUSINESS"):
                raise invalid("legalType", "Please select a legal type", value=details.get("legalType"))
            if not isinstance(details.get("iban"), str) or not iban_checks(details["iban"]):
                raise invalid("iban", "Please specify a valid IBAN", value=details.get("iban"))
            value = details["iban"]
        elif body.get("type") == "email":
            if not isinstance(details.get("email"), str) or "@" not in details["email"]:
                raise invalid("email", "Please provide a valid email", value=details.get("email"))
            value = details["email"]
        else:
            raise invalid("type", "Recipient type is not supported", value=body.get("type"))
        if value in self._refused:
            raise invalid(body["type"], self._refused[value], value=value)
        with self.lock:
            account = {
                "id": 40000000 + next(self._ids),
                "business": body["profile"] if body["profile"] == BUSINESS_PROFILE else None,
                "profile": body["profile"],
                "accountHolderName": body["accountHolderName"],
                "currency": body["currency"],
                "country": value[:2] if body["type"] == "iban" else None,
                "type": body["type"],
                "details": details,
                "active": True,
            }
            self.accounts[account["id"]] = account
        return account

    def create_transfer(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "A JSON object is required")
        if body.get("targetAccount") not in self.accounts:
            raise invalid("targetAccount", "Recipient not found", value=body.get("targetAccount"))
        quote = self.quotes.get(body.get("quoteUuid"))
        if quote is None:
            raise invalid("quoteUuid", "Quote not found", value=body.get("quoteUuid"))
        try:
            key = str(uuid.UUID(str(body.get("customerTransactionId"))))
        except ValueError:
            raise invalid("customerTransactionId", "must be a UUID", value=body.get("customerTransactionId")) from None
        reference = (body.get("details") or {}).get("reference", "")
        with self.lock:
            for transfer in self.transfers.values():
                if transfer["customerTransactionId"] == key:
                    return dict(transfer)
            if any(transfer["quoteUuid"] == quote["id"] for transfer in self.transfers.values()):
                raise invalid("quoteUuid", "You cannot use the same quote for more transfers", status=422)
            transfer = {
                "id": 50000000 + next(self._ids),
                "user": 9889627,
                "targetAccount": body["targetAccount"],
                "sourceAccount": None,
                "quote": None,
                "quoteUuid": quote["id"],
                "status": "incoming_payment_waiting",
                "reference": reference,
                "rate": 1,
                "created": "2026-06-01 10:00:00",
                "business": quote["profile"] if quote["profile"] == BUSINESS_PROFILE else None,
                "details": {"reference": reference},
                "hasActiveIssues": False,
                "sourceCurrency": quote["sourceCurrency"],
                "sourceValue": quote["sourceAmount"],
                "targetCurrency": quote["targetCurrency"],
                "targetValue": quote["targetAmount"],
                "customerTransactionId": key,
                "profile": quote["profile"],
            }
            self.transfers[transfer["id"]] = transfer
        self.call_hook(self.on_create_transfer, transfer)
        return dict(transfer)

    def transfer(self, transfer_id: int) -> dict[str, Any]:
        with self.lock:
            if transfer_id not in self.transfers:
                raise invalid("transferId", "Transfer not found", "transfer.not-found", 404, transfer_id)
            return dict(self.transfers[transfer_id])

    def fund(self, profile_id: int, transfer_id: int, body: Any, path: str) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("type") != "BALANCE":
            raise invalid("type", "Unsupported payment type", value=(body or {}).get("type"))
        if self.fund_forbidden:
            forbidden = {"status": 403, "error": "Forbidden", "message": "You are forbidden to send this request"}
            headers = {"x-2fa-approval-result": "REJECTED", "x-2fa-approval": str(uuid.uuid4())}
            raise Refusal(403, {**forbidden, "path": path}, headers)
        with self.lock:
            transfer = self.transfers.get(transfer_id)
            if transfer is None or transfer["profile"] != profile_id:
                raise invalid("transferId", "Transfer not found", "transfer.not-found", 404, transfer_id)
            if transfer["status"] != "incoming_payment_waiting":
                raise invalid("transferId", "Transfer is in invalid state", "transfer.invalid-state", 422, transfer_id)
            if self.balance_short:
                return {"type": "BALANCE", "status": "REJECTED", "errorCode": "transfer.insufficient_funds"}
            transfer["status"] = "processing"
            self.fundings.append(transfer_id)
        self.call_hook(self.on_fund, transfer)
        return {"type": "BALANCE", "status": "COMPLETED", "errorCode": None}

    @staticmethod
    def call_hook(hook: Callable[[dict[str, Any]], Any] | None, transfer: dict[str, Any]) -> None:
        """Run a test's hook outside the lock; if it raises, hang up unanswered."""
        if hook is not None:
            try:
                hook(dict(transfer))
            except Exception as error:
                raise HangUp() from error

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms wait between them

            def log_message(self, *args: Any) -> None:
                pass

            def handle_call(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    status, body, headers = fake.answer(self.command, self.path.split("?")[0], self.headers, raw)
                except HangUp:
                    self.close_connection = True
                    return
                except Exception as error:  # a fault of the fake's own, shown in the caller's error text
                    status, body, headers = 500, {"error": "fake_wise", "message": repr(error)}, {}
                payload = json_text(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = handle_call

        return Handler
