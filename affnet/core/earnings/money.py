"""Money: Decimal amounts, currencies and their minor units.

Amounts are ``Decimal`` from the edge of the API to the database. The database
keeps them as whole numbers of 1/10,000 of a major unit (``MoneyField``), which
is exact on SQLite and PostgreSQL alike and sums exactly in SQL.

Currencies are the current ISO 4217 list with ISO's minor units, as the
``iso4217`` package ships them: it carries the ISO 4217 maintenance agency's
own table (list one) and is released again when ISO publishes a new one.
It is the one well-kept source with both halves right. Babel's CLDR data
also holds withdrawn codes (``USS``, ``HRK``, ``ZWL``), so a typo of USD
would open a balance of its own, and its digits are CLDR's display digits,
which differ from ISO's for 15 currencies (IQD 0 instead of 3, HUF and IDR 0
instead of 2); pycountry has the current list but no minor units; py-moneyed's
data dates from 2022. Codes that ISO lists without a minor unit (metals such
as ``XAU``, ``XDR``, the test code ``XTS``, "no currency" ``XXX``) are refused:
no commission is paid in them. The largest minor unit in the list is 4 digits
(``CLF``, ``UYW``), which ``SCALE`` holds exactly.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from iso4217 import Currency

SCALE = 4
_MINOR_UNITS = {currency.code: currency.exponent for currency in Currency if currency.exponent is not None}
_WITHOUT_MINOR_UNIT = frozenset(currency.code for currency in Currency if currency.exponent is None)
assert max(_MINOR_UNITS.values()) <= SCALE, "a currency with more decimals than MoneyField stores"
_CURRENCY = re.compile(r"[A-Za-z]{3}", re.ASCII)
# What a string amount may look like: ASCII digits with an optional fraction. Python's Decimal also
# takes "1_000", other scripts' digits ("٣"), exponents and "Infinity": none of them is an amount.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_NOT_A_NUMBER = "must be a number such as 9.99"


class MoneyError(ValueError):
    """An amount or currency that affnet will not take; the message says why."""


def minor_units(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 for USD, 0 for JPY,
    3 for BHD, 4 for CLF). A code outside the list (one stored before codes
    were checked) is taken to have 2."""
    return _MINOR_UNITS.get(currency, 2)


def parse_currency(value) -> str:
    """A current ISO 4217 code with a minor unit, upper case (``usd`` is USD)."""
    code = value.upper() if isinstance(value, str) and _CURRENCY.fullmatch(value) else None
    if code in _MINOR_UNITS:
        return code
    if code in _WITHOUT_MINOR_UNIT:
        raise MoneyError(
            f"{code} has no minor unit in ISO 4217 (a metal, a fund or a test code): use a currency such as USD"
        )
    raise MoneyError("must be a current ISO 4217 currency code such as USD")


def parse_amount(value) -> Decimal:
    """A non-negative amount from JSON (number or string), never via float.

    The JSON layer hands numbers over as Decimal already (``parse_float``); a
    string is taken only when it is plain ASCII digits with an optional
    fraction ("9.99"), the way every product owner's code prints a decimal.
    """
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise MoneyError(_NOT_A_NUMBER)
        value = Decimal(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MoneyError(_NOT_A_NUMBER)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise MoneyError(_NOT_A_NUMBER) from None
    if not amount.is_finite():
        raise MoneyError("must be a finite number")
    if amount < 0:
        raise MoneyError("must not be negative")
    if amount >= Decimal(10) ** 12:
        raise MoneyError("is too large")
    if amount != amount.quantize(Decimal(1).scaleb(-SCALE), rounding=ROUND_HALF_UP):
        raise MoneyError(f"has more than {SCALE} decimals")
    return amount


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as the APIs show it: a string with the currency's decimals."""
    return str(round_money(amount, currency))


def to_units(amount: Decimal) -> int:
    """A Decimal as whole 1/10,000 units for storage; refuses to lose precision."""
    scaled = amount.scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than {SCALE} decimals")
    return int(scaled)


def from_units(units) -> Decimal:
    return Decimal(int(units or 0)).scaleb(-SCALE)
