"""Money: currencies are the current ISO 4217 list with ISO's minor units;
amounts are plain decimals."""

import json
from decimal import Decimal

import pytest

from affnet.cli import cli
from affnet.commands import register_all
from affnet.core.storage.models import Offer
from affnet.core.earnings.money import (
    MoneyError,
    SCALE,
    from_units,
    minor_units,
    parse_amount,
    parse_currency,
    round_money,
    to_units,
)

register_all(cli)


@pytest.mark.parametrize(
    "code", ["USS", "XYZ", "BTC", "HRK", "ZWL", "XAU", "XTS", "XXX", "US", "USDT", "ＵＳＤ", "U\x00S", 840, None]
)
def test_a_code_that_is_not_a_current_iso_4217_currency_is_refused(code):
    with pytest.raises(MoneyError, match="ISO 4217"):
        parse_currency(code)


@pytest.mark.parametrize("code, expected", [("USD", "USD"), ("eur", "EUR"), ("CLF", "CLF"), ("ZWG", "ZWG")])
def test_a_current_iso_4217_code_is_taken_in_upper_case(code, expected):
    assert parse_currency(code) == expected


@pytest.mark.parametrize(
    "code, digits",
    [("USD", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("IQD", 3), ("CLF", 4), ("UYW", 4), ("HUF", 2), ("ISK", 0)],
)
def test_minor_units_are_iso_4217s(code, digits):
    assert minor_units(code) == digits


def test_the_storage_scale_holds_every_currencys_minor_unit():
    from iso4217 import Currency

    assert max(currency.exponent or 0 for currency in Currency) <= SCALE
    assert from_units(to_units(Decimal("3.1667"))) == Decimal("3.1667")


def test_four_digit_currencies_round_to_four_digits():
    assert round_money(Decimal("10.5555") * 30 / 100, "CLF") == Decimal("3.1667")
    assert round_money(Decimal("2999") * 30 / 100, "JPY") == Decimal("900")
    assert round_money(Decimal("10.555") * 30 / 100, "BHD") == Decimal("3.167")


@pytest.mark.parametrize(
    "text",
    [
        "1_000",
        "٣",
        "１２",
        "1e3",
        "1E3",
        "0x10",
        " 9.99",
        "9.99 ",
        "9.",
        ".5",
        "+5",
        "9,99",
        "Infinity",
        "NaN",
        "",
        "--1",
        "1.2.3",
        "9.99\n",
    ],
)
def test_a_string_that_is_not_a_plain_ascii_decimal_is_not_an_amount(text):
    with pytest.raises(MoneyError, match="must be a number such as 9.99"):
        parse_amount(text)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("9.99", Decimal("9.99")),
        ("0", Decimal(0)),
        ("12", Decimal(12)),
        (Decimal("1E+3"), Decimal(1000)),
        (7, Decimal(7)),
    ],
)
def test_plain_decimals_and_json_numbers_are_amounts(value, expected):
    assert parse_amount(value) == expected


def test_a_negative_string_amount_says_so():
    with pytest.raises(MoneyError, match="must not be negative"):
        parse_amount("-5")


@pytest.fixture
def run(affnet_fresh):
    assert affnet_fresh("init").exit_code == 0
    assert affnet_fresh("users", "create", "o@example.com", "--role", "advertiser").exit_code == 0
    return affnet_fresh


@pytest.mark.parametrize("currency", ["USS", "XYZ", "BTC"])
def test_offers_create_refuses_a_currency_outside_iso_4217_and_makes_no_offer(run, currency):
    result = run(
        "offers",
        "create",
        "Susurra",
        "--advertiser",
        "o@example.com",
        "--landing-url",
        "https://s.example/",
        "--currency",
        currency,
    )
    assert result.exit_code == 1 and "ISO 4217" in result.output, result.output
    from affnet.core.storage.db import db

    with db.connection_context():
        assert Offer.select().count() == 0


def test_offers_create_takes_a_four_digit_currency(run):
    result = run(
        "offers",
        "create",
        "Susurra",
        "--advertiser",
        "o@example.com",
        "--landing-url",
        "https://s.example/",
        "--currency",
        "clf",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["currency"] == "CLF"
