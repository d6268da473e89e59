"""Payout requests and affiliate details the payout_wise tests send."""

from decimal import Decimal
from typing import Any

from affnet.plugins import PayoutRequest

IBAN = "DE89 3704 0044 0532 0130 00"
IBAN_DETAILS = {"account_holder_name": "Jane Doe", "iban": IBAN}
EMAIL_DETAILS = {"account_holder_name": "Jane Doe", "email": "jane@example.com"}


def payout_request(**changes: Any) -> PayoutRequest:
    """Payout 42 (or ``payout_id``): EUR 125.50 to Jane Doe's IBAN, with the
    key and reference the core gives it."""
    payout_id = changes.get("payout_id", 42)
    fields = {
        "payout_id": payout_id,
        "affiliate_id": 7,
        "amount": Decimal("125.50"),
        "currency": "EUR",
        "details": dict(IBAN_DETAILS),
        "idempotency_key": f"affnet-payout-{payout_id}",
        "reference": f"affnet payout {payout_id}",
    }
    return PayoutRequest(**{**fields, **changes})
