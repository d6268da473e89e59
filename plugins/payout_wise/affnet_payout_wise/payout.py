"""A payout through Wise: ``send`` makes and funds the transfer, ``poll``
follows it until the money is out or back.

``send`` (https://docs.wise.com/guides/product/send-money/use-cases/enterprise/send-money):

1. the profile: ``profile_id`` from the config, else the first business
   profile of ``GET /v2/profiles`` (else the first profile, for an operator
   with a personal account only);
2. the recipient account (``POST /v1/accounts``), then a quote for the
   amount to it (``POST /v3/profiles/{id}/quotes`` with ``targetAccount``,
   Wise's documented alternative to patching the quote with the recipient),
   paid in the payout's own currency: source = target = ``request.currency``;
3. the transfer (``POST /v1/transfers``) with ``customerTransactionId`` =
   ``customer_transaction_id(request.idempotency_key)``: Wise requires a UUID
   there, so it is the UUID-5 of the key in this plugin's ``NAMESPACE``,
   the same on every call for one payout. Wise answers a repeated
   ``customerTransactionId`` with the transfer it made the first time, so a
   send repeated after a timeout or a crash finds that transfer instead of
   making a second one (a new quote and recipient are made and left unused);
4. the transfer's status (``GET /v1/transfers/{id}``): only a transfer still
   ``incoming_payment_waiting`` is funded (``POST …/payments``, type
   ``BALANCE``), so a repeated send never funds twice; two sends racing are
   kept apart by Wise, which refuses to fund a transfer twice.

When ``request.external_id`` is known, steps 2 and 3 are skipped.

Outcomes: funded, or found funded: ``sent`` (``poll`` says when it is out).
Funding refused with 403 (personal API tokens of EU and UK accounts cannot
fund transfers, under PSD2's strong customer authentication): ``sent`` with
``FUND_BY_HAND``; the operator funds it in Wise and ``poll`` sees it go.
Funding rejected (``transfer.insufficient_funds``): ``retry``, which funds the
same transfer once the balance is topped up. No answer, a timeout, 408, 429,
a 5xx, 401 (the operator's token, not the payout, is at fault) or an answer
without the documented fields: ``retry``.
Any other 4xx (Wise refuses the recipient, say): ``failed`` with Wise's message.

``poll`` maps Wise's transfer statuses
(https://docs.wise.com/guides/product/send-money/tracking/transfer-statuses):
``outgoing_payment_sent`` is ``completed``; ``cancelled``, ``funds_refunded``,
``bounced_back`` and ``charged_back`` are ``failed``, the status leading the
reason; every other status is ``sent``. A poll that gets no answer is ``retry``.
"""

import logging
import uuid
from decimal import Decimal
from typing import Any

from affnet.plugins import PayoutRequest, PayoutResult, minor_units

from . import recipient
from .client import WiseClient, WiseError

log = logging.getLogger(__name__)

# The namespace of customerTransactionId: changing it would give every payout sent before a new
# id, and a retried send of one of them a second transfer.
NAMESPACE = uuid.UUID("398cedda-6686-5e10-b65e-4d38a7b130b0")

WAITING = "incoming_payment_waiting"
UNEXPECTED = "Wise answered without the fields its documentation promises"
FUND_BY_HAND = (
    "created in Wise; fund it in Wise's app or website: personal API tokens of EU and UK accounts cannot fund transfers"
)
FAILED_STATUSES = {
    "cancelled": "the transfer was cancelled in Wise",
    "funds_refunded": "Wise refunded the money to the operator's account",
    "bounced_back": "the recipient's bank sent the money back",
    "charged_back": "the transfer's funding was charged back",
}
NOTES = {
    WAITING: "waiting to be funded in Wise",
    "waiting_recipient_input_to_proceed": "Wise is waiting for the recipient to give their bank details",
}
# The longest reference each route carries (Wise's "Tips for paying invoices",
# https://wise.com/help/articles/2932870); a longer one is refused or cut by the banks.
REFERENCE_LIMITS = {"EUR": 35, "GBP": 18, "USD": 10, "CHF": 50, "DKK": 35, "NOK": 35, "PLN": 35, "SEK": 12}


def customer_transaction_id(idempotency_key: str) -> str:
    """The ``customerTransactionId`` of a payout: a UUID, the same for one key."""
    return str(uuid.uuid5(NAMESPACE, idempotency_key))


def reference_for(request: PayoutRequest) -> str:
    """The recipient's statement text: ``request.reference`` if the route
    carries it whole, else ``payout 42``, else ``P42``."""
    limit = REFERENCE_LIMITS.get(request.currency, 10)
    for candidate in (request.reference, f"payout {request.payout_id}", f"P{request.payout_id}"):
        if candidate and len(candidate) <= limit:
            return candidate
    return f"P{request.payout_id}"[:limit]


def amount_fault(request: PayoutRequest) -> str | None:
    """Why Wise cannot be asked to pay ``request.amount``, or None."""
    if request.currency not in recipient.CURRENCIES:
        return f"this Wise method does not pay {request.currency} (it pays {', '.join(recipient.CURRENCIES)})"
    if request.amount <= 0:
        return "a Wise payout must be more than zero"
    exponent = -minor_units(request.currency)
    if request.amount != request.amount.quantize(Decimal(1).scaleb(exponent)):
        return f"{request.amount} has more decimals than {request.currency} has"
    return None


def outcome_of(transfer: dict[str, Any]) -> PayoutResult:
    """What a Wise transfer's status means for the payout."""
    transfer_id = str(transfer["id"])
    status = str(transfer.get("status") or "")
    if status == "outgoing_payment_sent":
        return PayoutResult("completed", external_id=transfer_id)
    if status in FAILED_STATUSES:
        return PayoutResult("failed", external_id=transfer_id, error=f"{status}: {FAILED_STATUSES[status]}")
    return PayoutResult("sent", external_id=transfer_id, note=NOTES.get(status, ""))


def profile_id(wise: WiseClient, config: dict[str, Any]) -> int:
    """The profile that pays: the configured one, else Wise's first business
    profile, else its first profile."""
    if config.get("profile_id"):
        return int(config["profile_id"])
    profiles = [profile for profile in wise.profiles() if isinstance(profile, dict) and profile.get("id")]
    business = [profile for profile in profiles if str(profile.get("type", "")).upper() == "BUSINESS"]
    if not profiles:
        raise WiseError("this Wise API token sees no profile: set profile_id in [plugin.payout_wise]")
    return int((business or profiles)[0]["id"])


def create_transfer(wise: WiseClient, profile: int, request: PayoutRequest) -> str:
    """The id of the payout's transfer: made now, or made by an earlier send."""
    account = wise.create_account(recipient.account_request(request.details, request.currency, profile))
    quote = wise.create_quote(profile, request.currency, request.amount, int(account["id"]))
    key = customer_transaction_id(request.idempotency_key)
    transfer = wise.create_transfer(int(account["id"]), str(quote["id"]), key, reference_for(request))
    log.info("payout %s: Wise transfer %s (customerTransactionId %s)", request.payout_id, transfer["id"], key)
    return str(transfer["id"])


def fund_once(wise: WiseClient, profile: int, request: PayoutRequest, transfer_id: str) -> PayoutResult:
    """Fund the transfer unless it has been funded already."""
    transfer = wise.transfer(transfer_id)
    if transfer.get("status") != WAITING:
        return outcome_of(transfer)
    try:
        answer = wise.fund(profile, transfer_id)
    except WiseError as error:
        if error.status == 403:
            log.info(
                "payout %s: Wise refused to fund transfer %s (403): fund it in Wise", request.payout_id, transfer_id
            )
            return PayoutResult("sent", external_id=transfer_id, note=FUND_BY_HAND)
        if error.status in (409, 422) and (now := wise.transfer(transfer_id)).get("status") != WAITING:
            return outcome_of(now)
        raise
    if answer.get("status") == "COMPLETED":
        log.info("payout %s: Wise transfer %s funded", request.payout_id, transfer_id)
        return PayoutResult("sent", external_id=transfer_id)
    reason = answer.get("errorCode") or "no reason given"
    return PayoutResult(
        "retry",
        external_id=transfer_id,
        error=f"Wise did not fund transfer {transfer_id} from the {request.currency} balance ({reason}): "
        "top the balance up and the same transfer is funded on the next try",
    )


def result_of_error(error: WiseError, transfer_id: str | None) -> PayoutResult:
    if error.transient or error.status == 401:
        return PayoutResult("retry", external_id=transfer_id, error=error.message)
    return PayoutResult("failed", external_id=transfer_id, error=error.message)


def send(request: PayoutRequest, config: dict[str, Any]) -> PayoutResult:
    """Pay ``request`` through Wise; safe to call again with the same request."""
    fault = amount_fault(request) or recipient.unfit_for(request.details, request.currency)
    if fault:
        return PayoutResult("failed", external_id=request.external_id, error=fault)
    transfer_id = request.external_id
    with WiseClient(config) as wise:
        try:
            profile = profile_id(wise, config)
            transfer_id = transfer_id or create_transfer(wise, profile, request)
            return fund_once(wise, profile, request, transfer_id)
        except WiseError as error:
            return result_of_error(error, transfer_id)
        except (KeyError, TypeError, ValueError) as error:  # an answer without the documented fields
            return PayoutResult("retry", external_id=transfer_id, error=f"{UNEXPECTED} ({error!r})")


def poll(request: PayoutRequest, config: dict[str, Any]) -> PayoutResult:
    """Where Wise's transfer ``request.external_id`` stands."""
    if not request.external_id:
        return PayoutResult("retry", error="no Wise transfer is recorded for this payout yet")
    with WiseClient(config) as wise:
        try:
            return outcome_of(wise.transfer(request.external_id))
        except WiseError as error:
            return PayoutResult("retry", external_id=request.external_id, error=error.message)
        except (KeyError, TypeError, ValueError) as error:
            return PayoutResult("retry", external_id=request.external_id, error=f"{UNEXPECTED} ({error!r})")
