"""The Stripe webhook against hostile or broken input: never a
500, and nothing written for an event that is refused. A refused event is
answered 4xx: Stripe retries it for three days, then gives up, and shows it
as failed on the endpoint's page for the operator."""

import io
import json
import logging
import time

import pytest

from affnet.core.storage.models import Event, LedgerEntry
from affnet_stripe_ingest.webhook import CLOCK_SKEW_SECONDS
from stripe_ingest_support import event_data, event_text, post_event, sign

ACACIA_SALE = "invoice_payment_succeeded_acacia_subscription_create"


def nothing_written() -> bool:
    return Event.select().count() == 0 and LedgerEntry.select().count() == 0


def test_a_signed_body_nested_thousands_deep_answers_400_and_writes_nothing(affnet_client, offer):
    payload = '{"id": "evt_1", "type": "invoice.paid", "data": ' + "[" * 5000 + "]" * 5000 + "}"
    response = post_event(affnet_client, offer.slug, payload)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "the body is not a Stripe event: it is too deeply nested"
    assert nothing_written()


def _sale_with(click_id, where: str, value: str) -> dict:
    event = event_data(ACACIA_SALE, click_id)
    invoice = event["data"]["object"]
    if where == "customer":
        invoice["customer"] = value
    elif where == "payment_intent":
        invoice["payment_intent"] = value
    else:
        invoice["subscription_details"]["metadata"]["click_id"] = value
    return event


FIELD_OF = {"customer": "user_ref", "payment_intent": "external_payment_id", "metadata": "click_id"}


@pytest.mark.parametrize("where", list(FIELD_OF))
@pytest.mark.parametrize("bad", ["\ud800", "cus_\udfff1", "a\x00b", "pi_1\r\nforged"])
def test_a_signed_event_with_text_that_is_not_valid_unicode_or_has_control_characters_answers_422(
    affnet_client, offer, click_id, where, bad
):
    response = post_event(affnet_client, offer.slug, _sale_with(click_id, where, bad))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["fields"] == {FIELD_OF[where]: "must be valid Unicode text without control characters"}
    assert nothing_written()


def test_a_refund_whose_id_is_a_lone_surrogate_answers_422_and_writes_nothing(affnet_client, offer):
    event = event_data("charge_refunded_2022_one_refund")
    event["data"]["object"]["refunds"]["data"][0]["id"] = "re_\ud800"
    response = post_event(affnet_client, offer.slug, event)
    assert response.status_code == 422 and "refund_id" in response.get_json()["fields"]
    assert nothing_written()


def test_an_ignored_event_with_control_characters_in_its_id_is_logged_on_one_line(affnet_client, offer, caplog):
    caplog.set_level(logging.INFO, logger="affnet.stripe_ingest")
    event = {"id": "evt_1\nforged line", "type": "customer.created\r\n", "data": {"object": {}}}
    assert post_event(affnet_client, offer.slug, event).status_code == 200
    assert not any("\n" in record.getMessage() or "\r" in record.getMessage() for record in caplog.records)
    assert "'evt_1\\nforged line'" in caplog.text


def test_a_signature_timestamped_in_the_future_is_refused_with_400_and_writes_nothing(affnet_client, offer, click_id):
    ahead = int(time.time()) + CLOCK_SKEW_SECONDS + 60
    response = post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id), timestamp=ahead)
    assert response.status_code == 400
    assert "future" in response.get_json()["error"]
    assert nothing_written()


def test_a_signature_a_little_ahead_of_our_clock_is_accepted(affnet_client, offer, click_id):
    ahead = int(time.time()) + CLOCK_SKEW_SECONDS - 30
    response = post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id), timestamp=ahead)
    assert response.status_code == 201


def test_a_chunked_body_over_the_webhook_limit_answers_413_and_writes_nothing(affnet_client, offer, click_id):
    event = event_data(ACACIA_SALE, click_id)
    event["data"]["object"]["description"] = "x" * (5 * 1024 * 1024)
    payload = json.dumps(event)
    response = affnet_client.post(
        f"/hooks/stripe/{offer.slug}",
        input_stream=io.BytesIO(payload.encode()),
        headers={"Stripe-Signature": sign(payload), "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        # as gunicorn hands on a chunked body: no length, the stream ends with the body
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert response.status_code == 413, response.get_data(as_text=True)
    assert nothing_written()


@pytest.mark.parametrize("failure", ["peewee", "psycopg2"])
def test_a_database_that_meets_a_closed_connection_answers_503_and_records_nothing(
    affnet_client, offer, click_id, monkeypatch, failure
):
    import peewee
    import psycopg2

    from affnet.core.storage.db import db

    error = peewee.InterfaceError if failure == "peewee" else psycopg2.InterfaceError

    def closed(*args, **kwargs):
        raise error("connection already closed")

    payload = event_text(ACACIA_SALE, click_id)
    monkeypatch.setattr(db.obj, "execute_sql", closed)
    response = post_event(affnet_client, offer.slug, payload)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"].startswith("the database is unavailable; nothing was recorded")
    monkeypatch.undo()
    assert nothing_written()
