"""How Stripe payloads are read, without an app: payment ids, click ids, amounts."""

from decimal import Decimal

import pytest

from affnet_stripe_ingest.amounts import AmountError, from_minor_units
from affnet_stripe_ingest.events import charge_payment_id, invoice_click_id, invoice_payment_id, translate
from stripe_ingest_support import event_data


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        (2900, "USD", Decimal("29.00")),
        (4800, "JPY", Decimal("4800")),
        (50000, "KRW", Decimal("50000")),
        (12340, "KWD", Decimal("12.340")),
        (100, "ISK", Decimal("1.00")),
        (5000, "MGA", Decimal("5000")),
    ],
)
def test_minor_units_use_the_currency_exponent_stripe_uses(amount, currency, expected):
    assert from_minor_units(amount, currency) == expected


@pytest.mark.parametrize("amount", [29.0, "2900", None, True])
def test_an_amount_that_is_not_a_whole_number_of_minor_units_is_refused(amount):
    with pytest.raises(AmountError):
        from_minor_units(amount, "USD")


def test_payment_id_of_an_invoice_without_payment_intent_or_payments_is_the_invoice_id():
    invoice = event_data("invoice_paid_basil_subscription_create", "c")["data"]["object"]
    del invoice["payments"]
    assert invoice_payment_id(invoice) == invoice["id"]


def test_payment_id_prefers_the_paid_invoice_payment_over_a_canceled_one():
    invoice = event_data("invoice_paid_basil_subscription_create", "c")["data"]["object"]
    canceled = {
        "object": "invoice_payment",
        "status": "canceled",
        "is_default": True,
        "payment": {"type": "payment_intent", "payment_intent": "pi_failed_card"},
    }
    invoice["payments"]["data"][0]["is_default"] = False
    invoice["payments"]["data"].insert(0, canceled)
    assert invoice_payment_id(invoice) == "pi_3RIb7vLkdIwHu7ix2q3w4e5r"


def test_a_charge_and_its_invoice_name_the_same_payment_in_both_shapes():
    for invoice_name, charge_name in (
        ("invoice_payment_succeeded_acacia_subscription_create", "charge_refunded_2022_one_refund"),
        ("invoice_paid_basil_subscription_create", "charge_refunded_basil_partial"),
    ):
        invoice = event_data(invoice_name, "c")["data"]["object"]
        charge = event_data(charge_name)["data"]["object"]
        assert invoice_payment_id(invoice) == charge_payment_id(charge)


def test_click_id_is_read_from_an_expanded_subscription_in_the_payload():
    invoice = event_data("invoice_payment_succeeded_acacia_subscription_create", None)["data"]["object"]
    assert invoice_click_id(invoice) is None
    invoice["subscription"] = {"id": "sub_1", "object": "subscription", "metadata": {"click_id": "from-sub"}}
    assert invoice_click_id(invoice) == "from-sub"


def test_refund_event_without_a_newly_refunded_amount_plans_nothing():
    event = event_data("charge_refunded_basil_full")
    event["data"]["previous_attributes"]["amount_refunded"] = 2900
    assert translate(event).ignored and not translate(event).calls
