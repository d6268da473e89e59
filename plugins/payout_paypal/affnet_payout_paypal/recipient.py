"""What a PayPal payout is made of on affnet's side: the affiliate's PayPal
email, the currencies paid, and the amount as PayPal writes it."""

import re
from decimal import Decimal
from typing import Any

from affnet.plugins import N_, minor_units, round_money

# PayPal's currencies for payments and balances, less BRL, CNY and MYR (held by in-country
# accounts only) and less HUF and TWD: PayPal takes no decimals in those two, while ISO 4217
# (and so affnet's balances) has two, so nearly every commission in them would be refused.
# JPY has no decimals in either.
CURRENCIES = (
    "USD", "EUR", "GBP", "AUD", "CAD", "CHF", "CZK", "DKK", "HKD", "ILS",
    "JPY", "MXN", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB",
)  # fmt: skip

MAX_EMAIL = 127  # PayPal's limit for ``receiver``
_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})",
    re.ASCII,
)


def email_of(details: dict[str, Any]) -> str:
    """The affiliate's PayPal email as given, without surrounding spaces."""
    value = details.get("email")
    return value.strip() if isinstance(value, str) else ""


def validate(details: dict[str, Any]) -> dict[str, str]:
    """``{"email": why}`` when the email is missing or not shaped like one."""
    email = email_of(details)
    if not email:
        return {"email": N_("Enter the email address of your PayPal account.")}
    if len(email) > MAX_EMAIL:
        return {"email": N_("PayPal takes email addresses of at most 127 characters.")}
    if not _EMAIL.fullmatch(email) or len(email.split("@")[0]) > 64:
        return {"email": N_("This is not an email address such as name@example.com.")}
    return {}


def destination(details: dict[str, Any]) -> str:
    """Where the money goes, for the operator's books: the PayPal email."""
    return email_of(details)


def paypal_value(amount: Decimal, currency: str) -> str | None:
    """The amount as PayPal's ``amount.value``: a plain decimal string with
    the currency's minor units (``12.50``, ``1500`` for JPY); None when the
    amount is not positive or has more decimals than the currency."""
    if not amount.is_finite() or amount <= 0:
        return None
    rounded = round_money(amount, currency)
    if rounded != amount:
        return None
    return f"{rounded:.{minor_units(currency)}f}"
