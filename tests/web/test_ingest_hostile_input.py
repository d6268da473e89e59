"""SPEC section 2, "never 500 for any input": bodies a hostile caller sends.
Each refusal is a 4xx with a reason, and writes nothing."""

import io
import json
from decimal import Decimal

import pytest

from affnet.core.storage.models import Event, LedgerEntry
from affnet.testing import click, click_id_of, ingest, sale_body


@pytest.fixture
def click_id(affnet_client, affnet_network):
    return click_id_of(click(affnet_client, affnet_network.ref))


def post_raw(client, network, raw: bytes, call: str = "conversion", **kwargs):
    return client.post(
        f"/api/ingest/{call}",
        data=raw,
        content_type="application/json",
        headers={"X-Offer-Key": network.offer_key},
        **kwargs,
    )


def nothing_written() -> bool:
    return Event.select().count() == 0 and LedgerEntry.select().count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"event": "sale", "click_id": ' + b'{"":' * 2500 + b"1" + b"}" * 2500 + b"}",
    ],
)
def test_a_body_nested_thousands_deep_answers_422_and_writes_nothing(affnet_client, affnet_network, raw):
    response = post_raw(affnet_client, affnet_network, raw)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "too deeply nested" in response.get_json()["error"]
    assert nothing_written()


TEXT_FIELDS = ("click_id", "user_ref", "external_payment_id")


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("bad", ["\ud800", "pi_\udfff", "a\x00b", "\x00", "pi_1\nforged", "pi\x1b[31m", "pi\x85x"])
def test_text_that_is_not_valid_unicode_or_has_control_characters_answers_422_naming_the_field(
    affnet_client, affnet_network, click_id, field, bad
):
    body = {**sale_body(click_id), field: bad}
    response = post_raw(affnet_client, affnet_network, json.dumps(body).encode())
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["fields"] == {field: "must be valid Unicode text without control characters"}
    assert nothing_written()


@pytest.mark.parametrize("field", ["external_payment_id", "refund_id"])
@pytest.mark.parametrize("bad", ["\ud800", "a\x00b"])
def test_a_refund_with_a_lone_surrogate_or_nul_answers_422_and_writes_nothing(
    affnet_client, affnet_network, field, bad
):
    body = {"external_payment_id": "pi_1", "refund_id": "re_1", field: bad}
    response = post_raw(affnet_client, affnet_network, json.dumps(body).encode(), call="refund")
    assert response.status_code == 422 and field in response.get_json()["fields"]
    assert nothing_written()


@pytest.mark.parametrize("call", ["refund", "chargeback"])
@pytest.mark.parametrize("blank", ["\x1d", "\x1c\x1f", "   ", "\u2028", "\x85"])
def test_a_reversal_whose_payment_id_is_only_separators_or_spaces_answers_422_and_writes_nothing(
    affnet_client, affnet_network, call, blank
):
    response = post_raw(affnet_client, affnet_network, json.dumps({"external_payment_id": blank}).encode(), call=call)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "external_payment_id" in response.get_json()["fields"]
    assert nothing_written()


@pytest.mark.parametrize("blank", ["\x1d", "   ", "\u2028"])
def test_a_sale_whose_payment_id_is_only_separators_or_spaces_answers_422_and_writes_nothing(
    affnet_client, affnet_network, click_id, blank
):
    body = {**sale_body(click_id), "external_payment_id": blank}
    response = post_raw(affnet_client, affnet_network, json.dumps(body).encode())
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "external_payment_id" in response.get_json()["fields"]
    assert nothing_written()


def test_ids_as_long_as_the_api_takes_are_recorded_and_their_repeats_found(affnet_client, affnet_network, click_id):
    payment, refund = "p" * 255, "r" * 255
    for body, call, status in [
        ({**sale_body(click_id), "external_payment_id": payment}, "conversion", 201),
        ({**sale_body(click_id), "external_payment_id": payment, "test": True}, "conversion", 201),
        ({"event": "lead", "user_ref": "u" * 255}, "conversion", 201),
        ({"external_payment_id": payment, "amount": "1.00", "refund_id": refund}, "refund", 201),
        ({"external_payment_id": "q" * 255, "refund_id": refund}, "chargeback", 202),
    ]:
        first = post_raw(affnet_client, affnet_network, json.dumps(body).encode(), call=call)
        assert first.status_code == status, first.get_data(as_text=True)
        again = post_raw(affnet_client, affnet_network, json.dumps(body).encode(), call=call)
        assert again.status_code == 200 and again.get_json()["txid"] == first.get_json()["txid"]
    assert Event.select().count() == 5


def test_text_with_letters_of_any_script_and_surrounding_spaces_is_still_accepted(
    affnet_client, affnet_network, click_id
):
    body = sale_body(click_id, user_ref="  cliente_Muñoz_東京_🙂 ")
    response = post_raw(affnet_client, affnet_network, json.dumps(body).encode())
    assert response.status_code == 201
    assert Event.get().user_ref == "cliente_Muñoz_東京_🙂"


@pytest.mark.parametrize("failure", ["peewee", "peewee operational", "psycopg2 interface", "psycopg2 operational"])
def test_a_database_that_fails_answers_503_and_records_nothing(
    affnet_client, affnet_network, click_id, monkeypatch, failure
):
    import peewee
    import psycopg2

    from affnet.core.storage import sql

    error = {
        "peewee": peewee.InterfaceError,
        "peewee operational": peewee.OperationalError,
        "psycopg2 interface": psycopg2.InterfaceError,
        "psycopg2 operational": psycopg2.OperationalError,
    }[failure]

    def refuse(*args, **kwargs):
        raise error("connection already closed")

    monkeypatch.setattr(sql, "insert_event", refuse)
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert response.status_code == 503
    assert response.get_json()["error"].startswith("the database is unavailable; nothing was recorded")
    monkeypatch.undo()
    assert nothing_written()


def test_a_database_whose_every_query_meets_a_closed_connection_answers_503(
    affnet_client, affnet_network, click_id, monkeypatch
):
    import peewee

    from affnet.core.storage.db import db

    def closed(*args, **kwargs):
        raise peewee.InterfaceError("connection already closed")

    monkeypatch.setattr(db.obj, "execute_sql", closed)
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert response.status_code == 503 and response.is_json
    monkeypatch.undo()
    assert nothing_written()


@pytest.mark.parametrize("currency", ["USS", "XYZ", "BTC", "XAU", "xts"])
def test_a_currency_that_is_not_a_current_iso_4217_money_answers_422_and_writes_nothing(
    affnet_client, affnet_network, click_id, currency
):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, currency=currency))
    assert response.status_code == 422
    assert "ISO 4217" in response.get_json()["fields"]["currency"]
    assert nothing_written()


def test_a_four_digit_currency_commission_rounds_to_four_digits(affnet_client, affnet_network, click_id):
    body = sale_body(click_id, amount="10.5555", currency="CLF")
    answer = ingest(affnet_client, affnet_network, "conversion", body).get_json()
    assert (answer["payout"], answer["currency"]) == ("3.1667", "CLF"), "30% of 10.5555 = 3.16665 -> 3.1667"
    assert LedgerEntry.get().amount == Decimal("3.1667")


def test_a_three_digit_currency_commission_rounds_to_three_digits(affnet_client, affnet_network, click_id):
    answer = ingest(
        affnet_client, affnet_network, "conversion", sale_body(click_id, amount="10.555", currency="BHD")
    ).get_json()
    assert (answer["payout"], answer["currency"]) == ("3.167", "BHD"), "30% of 10.555 = 3.1665 -> 3.167"


@pytest.mark.parametrize(
    "amount", ["1_000", "٣", "１２", "1e3", "0x10", " 9.99", "9.", ".5", "+5", "9,99", "Infinity", "NaN"]
)
def test_an_amount_that_is_not_a_plain_ascii_decimal_answers_422_and_writes_nothing(
    affnet_client, affnet_network, click_id, amount
):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=amount))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["fields"]["gross_amount"] == "must be a number such as 9.99"
    assert nothing_written()


@pytest.mark.parametrize("amount", ["9.99", "1000", "0.0001", "007.50"])
def test_plain_ascii_decimal_strings_are_amounts(affnet_client, affnet_network, click_id, amount):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=amount))
    assert response.status_code == 201
    assert Event.get().gross_amount == Decimal(amount)


def test_a_body_shorter_than_its_content_length_answers_400_and_writes_nothing(affnet_client, affnet_network, click_id):
    whole = json.dumps(sale_body(click_id)).encode()
    response = affnet_client.post(
        "/api/ingest/conversion",
        input_stream=io.BytesIO(whole),
        headers={"X-Offer-Key": affnet_network.offer_key},
        environ_overrides={"CONTENT_LENGTH": str(len(whole) + 100)},
    )
    assert response.status_code == 400
    assert "shorter than its Content-Length" in response.get_json()["error"]
    assert nothing_written()
