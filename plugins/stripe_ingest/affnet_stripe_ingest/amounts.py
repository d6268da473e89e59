"""Stripe's amounts: whole numbers of the currency's minor unit.

Stripe writes ``2900`` for 29.00 USD and ``4800`` for 4800 JPY: the exponent is
the currency's ISO 4217 minor unit (``affnet.plugins.minor_units``) except
where Stripe documents otherwise: ISK stays a two-decimal currency in Stripe's
API (an amount of ``100`` is 1 króna) and MGA is zero-decimal there.
"""

from decimal import Decimal

from affnet.plugins import minor_units

_STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}


class AmountError(ValueError):
    """A Stripe amount or currency that is missing or not a whole number."""


def stripe_exponent(currency: str) -> int:
    """How many decimals Stripe's minor unit has for ``currency`` (upper case)."""
    return _STRIPE_EXPONENTS.get(currency, minor_units(currency))


def currency_of(value) -> str:
    """Stripe's lower-case ``usd`` as ``USD``."""
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise AmountError("currency must be a three-letter code such as usd")
    return value.strip().upper()


def from_minor_units(amount, currency: str) -> Decimal:
    """A Stripe integer amount as a Decimal in major units (never via float)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountError("amount must be a whole number of the currency's minor unit")
    return Decimal(amount).scaleb(-stripe_exponent(currency))
