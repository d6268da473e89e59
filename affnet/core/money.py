"""Money: Decimal amounts, currencies and their minor units.

Amounts are ``Decimal`` from the edge of the API to the database. The database
keeps them as whole numbers of 1/10,000 of a major unit (``MoneyField``), which
is exact on SQLite and PostgreSQL alike and sums exactly in SQL.
"""
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit is not 1/100.
_MINOR_UNITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
SCALE = 4


class MoneyError(ValueError):
    """An amount or currency that affnet will not take; the message says why."""


def minor_units(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 for USD, 0 for JPY)."""
    return _MINOR_UNITS.get(currency, 2)


def parse_currency(value) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.upper()):
        raise MoneyError("must be a three-letter ISO 4217 code such as USD")
    return value.upper()


def parse_amount(value) -> Decimal:
    """A non-negative amount from JSON (number or string), never via float.

    The JSON layer hands numbers over as Decimal already (``parse_float``); a
    string such as "9.99" is accepted too.
    """
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise MoneyError("must be a number such as 9.99")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError("must be a number such as 9.99") from None
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
