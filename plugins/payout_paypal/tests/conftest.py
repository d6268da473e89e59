"""Fixtures of the payout_paypal tests: a fake PayPal on 127.0.0.1, an empty
token cache for each test, and payout requests as the core builds them."""

from decimal import Decimal

import pytest

from affnet.plugins import PayoutRequest
from affnet_payout_paypal.tokens import TOKENS
from fake_paypal import FakePayPal


@pytest.fixture(autouse=True)
def empty_token_cache():
    TOKENS.clear()
    yield
    TOKENS.clear()


@pytest.fixture
def fake():
    with FakePayPal() as paypal:
        yield paypal
    assert not paypal.server_errors, "the fake failed on a request"


@pytest.fixture
def payout_request():
    """``payout_request(payout_id=42, amount="25.50", ...)``: a ``PayoutRequest``
    with the core's key and reference for that payout."""

    def build(payout_id=42, amount="25.50", currency="USD", email="aff@example.com", external_id=None):
        return PayoutRequest(
            payout_id=payout_id,
            affiliate_id=7,
            amount=Decimal(amount),
            currency=currency,
            details={"email": email},
            idempotency_key=f"affnet-payout-{payout_id}",
            reference=f"affnet payout {payout_id}",
            external_id=external_id,
        )

    return build
