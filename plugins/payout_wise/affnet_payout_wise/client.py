"""The calls to the Wise API that a payout makes, one method per documented call.

A call that does not succeed raises ``WiseError`` with Wise's own message and
its HTTP status (None when no answer came). The API token travels only in
the ``Authorization: Bearer`` header: every text this module makes, Wise's
messages included (a 401 may quote the token back), has it masked.

Pages followed (docs.wise.com):

- profiles: /api-reference/profile (``GET /v2/profiles``: a list of
  ``{"id", "type": "PERSONAL" | "BUSINESS", "fullName", ...}``);
- quotes: /guides/product/send-money/use-cases/enterprise/send-money and
  /api-reference/quote (``POST /v3/profiles/{profileId}/quotes`` with
  ``sourceCurrency``, ``targetCurrency``, ``targetAmount`` (a number),
  ``targetAccount``, ``preferredPayIn``; the answer's ``id`` is a UUID, the
  transfer's ``quoteUuid``);
- recipients: /api-reference/recipient (``POST /v1/accounts``);
- transfers: /guides/product/send-money/standard-api-transfers and
  /api-reference/transfer (``POST /v1/transfers`` with ``targetAccount``,
  ``quoteUuid``, ``customerTransactionId`` (a UUID) and ``details.reference``;
  ``GET /v1/transfers/{transferId}``);
- funding: /guides/product/send-money/funding/fund-by-transfer
  (``POST /v3/profiles/{profileId}/transfers/{transferId}/payments`` with
  ``{"type": "BALANCE"}``, answering ``{"type", "status": "COMPLETED" |
  "REJECTED", "errorCode"}``) and
  /api-docs/features/strong-customer-authentication-2fa/personal-token-sca
  (the 403 of personal tokens under PSD2);
- errors: /guides/developer/errors (``{"errors": [{"code", "message",
  "path", "arguments"}]}`` for client errors, ``{"error",
  "error_description"}`` for system ones).
"""

import json
import re
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

SANDBOX = "https://api.sandbox.transferwise.tech"
LIVE = "https://api.wise.com"
DEFAULT_TIMEOUT_SECONDS = 20.0
MASK = "[the API token]"


class WiseError(Exception):
    """A call that did not succeed. ``status`` is Wise's HTTP status, or None
    when no usable answer came (a timeout, a connection refused or cut, a
    body that is not JSON); ``code`` is Wise's first error code, or ""."""

    def __init__(self, message: str, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def transient(self) -> bool:
        """Nothing is known to have happened and the same call may work later:
        no answer, 408, 429 or a 5xx."""
        return self.status is None or self.status in (408, 429) or self.status >= 500


def json_text(body: Any) -> str:
    """``body`` as JSON, each ``Decimal`` written as the exact JSON number it
    is (``Decimal("12.50")`` as ``12.50``), never through a float."""
    # json writes a Decimal only through default(), as a string: mark those strings with a
    # random word no text of the body can hold, then unquote them into numbers.
    mark = uuid.uuid4().hex

    def number(value: Any) -> str:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{mark}{value:f}{mark}"
        raise TypeError(f"{type(value).__name__} is not JSON")

    return re.sub(f'"{mark}(-?[0-9]+(?:\\.[0-9]+)?){mark}"', r"\1", json.dumps(body, default=number))


def wise_message(text: str) -> tuple[str, str]:
    """(message, code) of a Wise error answer: the ``errors`` messages joined,
    else ``error_description`` or ``message``; the text itself, cut, when it
    is not Wise's JSON."""
    try:
        answer = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200], ""
    if not isinstance(answer, dict):
        return " ".join(text.split())[:200], ""
    errors = [error for error in answer.get("errors") or () if isinstance(error, dict)]
    if errors:
        messages = [str(error.get("message") or error.get("code") or "") for error in errors]
        return "; ".join(message for message in messages if message), str(errors[0].get("code") or "")
    message = answer.get("error_description") or answer.get("message") or answer.get("error") or ""
    return str(message), str(answer.get("error") or answer.get("code") or "")


class WiseClient:
    """One payout's conversation with Wise, on the operator's ``config``
    (``base_url``, ``api_token``, and ``affnet.timeout_seconds`` if set).
    Use it as a context manager so its connections are closed."""

    def __init__(self, config: dict[str, Any]):
        self.base_url = str(config.get("base_url") or SANDBOX).rstrip("/")
        self.timeout = float(config.get("affnet.timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
        self._token = str(config.get("api_token") or "").strip()  # pasted with a newline: still the token
        self._session = requests.Session()

    def __enter__(self) -> "WiseClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._session.close()

    def masked(self, text: str) -> str:
        """``text`` with the API token replaced by ``[the API token]``."""
        return text.replace(self._token, MASK) if self._token else text

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Wise's JSON answer (numbers as ``Decimal``) to one request; raises
        ``WiseError`` for anything but a 2xx with JSON."""
        if not self._token:
            raise WiseError("no Wise API token is set: set it with `affnet payouts credentials`")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json_text(body).encode()
        where = f"{method} {path}"
        try:
            response = self._session.request(
                method, self.base_url + path, data=data, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise WiseError(f"Wise did not answer {where} within {self.timeout:g} seconds") from None
        except requests.RequestException as error:
            raise WiseError(self.masked(f"could not reach Wise ({where}): {error}")) from None
        if not 200 <= response.status_code < 300:
            message, code = wise_message(response.text)
            if response.status_code == 401:  # Wise's 401 may quote the token it refused: say it plainly
                message = "Wise refused the API token (HTTP 401): set it again with `affnet payouts credentials`"
            message = message or f"Wise answered {where} with HTTP {response.status_code}"
            raise WiseError(self.masked(message), response.status_code, self.masked(code))
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            raise WiseError(f"Wise answered {where} with something that is not JSON") from None

    def profiles(self) -> list[dict[str, Any]]:
        return self.call("GET", "/v2/profiles")

    def create_account(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/accounts", body)

    def create_quote(self, profile_id: int, currency: str, amount: Decimal, account_id: int) -> dict[str, Any]:
        """A quote for ``amount`` received in ``currency``, paid from the
        balance in the same currency, to the recipient account given."""
        body = {
            "sourceCurrency": currency,
            "targetCurrency": currency,
            "targetAmount": amount,
            "targetAccount": account_id,
            "preferredPayIn": "BALANCE",
        }
        return self.call("POST", f"/v3/profiles/{profile_id}/quotes", body)

    def create_transfer(
        self, account_id: int, quote_id: str, customer_transaction_id: str, reference: str
    ) -> dict[str, Any]:
        """The transfer; Wise answers a repeated ``customer_transaction_id``
        with the transfer it made the first time."""
        body = {
            "targetAccount": account_id,
            "quoteUuid": quote_id,
            "customerTransactionId": customer_transaction_id,
            "details": {"reference": reference},
        }
        return self.call("POST", "/v1/transfers", body)

    def transfer(self, transfer_id: int | str) -> dict[str, Any]:
        return self.call("GET", f"/v1/transfers/{quote(str(transfer_id), safe='')}")

    def fund(self, profile_id: int, transfer_id: int | str) -> dict[str, Any]:
        """Pay the transfer from the profile's balance (``type: BALANCE``)."""
        path = f"/v3/profiles/{profile_id}/transfers/{quote(str(transfer_id), safe='')}/payments"
        return self.call("POST", path, {"type": "BALANCE"})
