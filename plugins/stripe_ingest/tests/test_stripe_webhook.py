"""The Stripe webhook (way 2): signed real-shaped Stripe events become
the same events, amounts, statuses and commissions as the ingest API's.

The network's offer pays sale=30%, rebill=20%, trial=2.00, lead=0.50.
"""

import json
import time
from decimal import Decimal

import pytest
import stripe

from affnet.core.storage.models import Event, LedgerEntry, OfferSecret
from affnet.testing import ingest, sale_body
from affnet_stripe_ingest.webhook import SECRET_NAME
from stripe_ingest_support import TEST_SECRET, event_data, event_text, post_event, sign

BASIL_SALE = "invoice_paid_basil_subscription_create"
ACACIA_SALE = "invoice_payment_succeeded_acacia_subscription_create"
ACACIA_REBILL = "invoice_payment_succeeded_acacia_subscription_cycle"
BASIL_PI = "pi_3RIb7vLkdIwHu7ix2q3w4e5r"
ACACIA_PI = "pi_3Q8xKnLkdIwHu7ix0n9mP8qR"


def only(response) -> dict:
    body = response.get_json()
    assert len(body["results"]) == 1, body
    return body["results"][0]


def affiliate_balance(network) -> Decimal:
    return sum(
        (entry.amount for entry in LedgerEntry.select().where(LedgerEntry.affiliate == network.affiliate.id)),
        Decimal(0),
    )


def test_our_signer_is_accepted_by_the_official_stripe_library():
    payload = event_text(BASIL_SALE, "c1")
    header = sign(payload, timestamp=1745921100)
    assert header == stripe.WebhookSignature.generate_signature_header(payload, TEST_SECRET, timestamp=1745921100)
    fresh = sign(payload)
    assert stripe.Webhook.construct_event(payload, fresh, TEST_SECRET).id == "evt_1RIb7xLkdIwHu7ixQw3e4r5t"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, secret="whsec_other"), TEST_SECRET)


def test_subscription_create_invoice_in_the_older_shape_is_a_first_sale_paying_30_percent(
    affnet_client, affnet_network, offer, click_id
):
    response = post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id))
    assert response.status_code == 201
    body = only(response)
    assert (body["event"], body["status"], body["attributed"], body["payout"], body["currency"]) == (
        "sale",
        "sale",
        True,
        "8.70",
        "USD",
    )
    event = Event.get(Event.txid == body["txid"])
    assert (event.external_payment_id, event.user_ref, event.gross_amount, event.currency) == (
        ACACIA_PI,
        "cus_QzX4aB7cD9eF1g",
        Decimal("29.00"),
        "USD",
    )
    assert event.is_first_payment is True and event.source == "stripe"
    assert event.click.click_id == click_id and event.participation_id == affnet_network.participation.id


def test_invoice_paid_in_the_newer_shape_takes_click_id_from_parent_and_payment_from_payments(
    affnet_client, affnet_network, offer, click_id
):
    response = post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id))
    assert response.status_code == 201
    event = Event.get(Event.txid == only(response)["txid"])
    assert (event.kind, event.external_payment_id, event.user_ref) == ("sale", BASIL_PI, "cus_SCt5bN8mQ2rL4k")
    assert (event.payout, event.payout_currency, event.click.click_id) == (Decimal("8.70"), "USD", click_id)


def test_subscription_cycle_invoice_is_a_rebill_paying_20_percent(affnet_client, offer, click_id):
    post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id))
    response = post_event(affnet_client, offer.slug, event_text(ACACIA_REBILL, click_id))
    assert response.status_code == 201
    body = only(response)
    assert (body["event"], body["status"], body["payout"]) == ("rebill", "sale", "5.80")
    assert Event.get(Event.txid == body["txid"]).is_first_payment is False


def test_rebill_without_click_id_is_attributed_to_the_customers_affiliate(
    affnet_client, affnet_network, offer, click_id
):
    post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id))
    body = only(post_event(affnet_client, offer.slug, event_text(ACACIA_REBILL, None)))
    assert (body["attributed"], body["payout"]) == (True, "5.80")
    assert Event.get(Event.txid == body["txid"]).participation_id == affnet_network.participation.id


def test_jpy_invoice_stays_in_whole_yen(affnet_client, offer, click_id):
    body = only(post_event(affnet_client, offer.slug, event_text("invoice_paid_basil_jpy", click_id)))
    event = Event.get(Event.txid == body["txid"])
    assert (event.gross_amount, event.currency) == (Decimal("4800"), "JPY")
    assert (body["payout"], body["currency"]) == ("1440", "JPY")


def test_partial_then_full_refund_each_reverse_their_share_once(affnet_client, affnet_network, offer, click_id):
    sale = only(post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id)))
    partial = post_event(affnet_client, offer.slug, event_text("charge_refunded_basil_partial"))
    assert partial.status_code == 201
    assert (only(partial)["event"], only(partial)["status"], only(partial)["payout"]) == ("refund", "rejected", "-3.00")
    rest = post_event(affnet_client, offer.slug, event_text("charge_refunded_basil_full"))
    assert (rest.status_code, only(rest)["payout"], only(rest)["reverses"]) == (201, "-5.70", sale["txid"])
    for name in ("charge_refunded_basil_partial", "charge_refunded_basil_full"):  # Stripe's retries
        again = post_event(affnet_client, offer.slug, event_text(name))
        assert (again.status_code, only(again)["duplicate"]) == (200, True)
    refunds = Event.select().where(Event.kind == "refund")
    assert sorted(refund.gross_amount for refund in refunds) == [Decimal("10.00"), Decimal("19.00")]
    assert affiliate_balance(affnet_network) == Decimal("0.00")


def test_refunds_listed_on_the_charge_are_each_counted_once(affnet_client, affnet_network, offer, click_id):
    post_event(affnet_client, offer.slug, event_text(ACACIA_SALE, click_id))
    first = post_event(affnet_client, offer.slug, event_text("charge_refunded_2022_one_refund"))
    assert [result["payout"] for result in first.get_json()["results"]] == ["-1.50"]
    second = post_event(affnet_client, offer.slug, event_text("charge_refunded_2022_two_refunds"))
    assert second.status_code == 200
    assert sorted((r["duplicate"], r["payout"]) for r in second.get_json()["results"]) == [
        (False, "-1.50"),
        (True, "-1.50"),
    ]
    assert Event.select().where(Event.kind == "refund").count() == 2
    assert affiliate_balance(affnet_network) == Decimal("5.70")


def test_dispute_is_a_chargeback_reversing_the_commission(affnet_client, affnet_network, offer, click_id):
    sale = only(post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id)))
    response = post_event(affnet_client, offer.slug, event_text("charge_dispute_created"))
    assert response.status_code == 201
    body = only(response)
    assert (body["event"], body["status"], body["payout"], body["reverses"]) == (
        "chargeback",
        "rejected",
        "-8.70",
        sale["txid"],
    )
    assert affiliate_balance(affnet_network) == Decimal("0.00")


def test_trialing_subscription_is_a_trial_paying_2(affnet_client, offer, click_id):
    response = post_event(affnet_client, offer.slug, event_text("customer_subscription_created_trialing", click_id))
    assert response.status_code == 201
    body = only(response)
    assert (body["event"], body["status"], body["attributed"], body["payout"]) == ("trial", "lead", True, "2.00")
    assert Event.get(Event.txid == body["txid"]).user_ref == "cus_SHt8Carla5Trial"


def test_subscription_created_without_a_trial_is_ignored(affnet_client, offer, click_id):
    event = event_data("customer_subscription_created_trialing", click_id)
    event["data"]["object"]["status"] = "active"
    response = post_event(affnet_client, offer.slug, event)
    assert response.status_code == 200 and response.get_json()["ignored"]
    assert Event.select().count() == 0


def test_zero_amount_invoice_is_ignored(affnet_client, offer, click_id):
    event = event_data(BASIL_SALE, click_id)
    event["data"]["object"]["amount_paid"] = 0
    response = post_event(affnet_client, offer.slug, event)
    assert response.status_code == 200 and "nothing was paid" in response.get_json()["ignored"]
    assert Event.select().count() == 0


def test_invoice_that_is_not_a_subscription_payment_is_ignored(affnet_client, offer, click_id):
    event = event_data(BASIL_SALE, click_id)
    event["data"]["object"]["billing_reason"] = "manual"
    assert post_event(affnet_client, offer.slug, event).status_code == 200
    assert Event.select().count() == 0


def test_other_event_types_answer_200_and_are_ignored(affnet_client, offer):
    response = post_event(affnet_client, offer.slug, event_text("customer_created"))
    assert response.status_code == 200
    assert response.get_json()["type"] == "customer.created" and response.get_json()["ignored"]
    assert Event.select().count() == 0


def test_stripe_retry_of_an_event_changes_nothing(affnet_client, affnet_network, offer, click_id):
    payload = event_text(BASIL_SALE, click_id)
    first = only(post_event(affnet_client, offer.slug, payload))
    retry = post_event(affnet_client, offer.slug, payload)
    assert retry.status_code == 200
    assert (only(retry)["txid"], only(retry)["duplicate"]) == (first["txid"], True)
    assert Event.select().count() == 1
    assert affiliate_balance(affnet_network) == Decimal("8.70")


def test_invoice_paid_and_invoice_payment_succeeded_of_one_invoice_count_once(affnet_client, offer, click_id):
    paid = event_data(BASIL_SALE, click_id)
    succeeded = json.loads(json.dumps(paid))
    succeeded["id"], succeeded["type"] = "evt_1RIb7xLkdIwHu7ixOtherOne", "invoice.payment_succeeded"
    assert post_event(affnet_client, offer.slug, paid).status_code == 201
    assert only(post_event(affnet_client, offer.slug, succeeded))["duplicate"] is True
    assert Event.select().count() == 1


@pytest.mark.parametrize("first_way", ["ingest_api", "webhook"])
def test_same_payment_through_the_ingest_api_and_the_webhook_counts_once(
    affnet_client, affnet_network, offer, click_id, first_way
):
    api_body = sale_body(click_id, payment=BASIL_PI, amount=29.0, user_ref="cus_SCt5bN8mQ2rL4k")
    if first_way == "ingest_api":
        assert ingest(affnet_client, affnet_network, "conversion", api_body).status_code == 201
        second = post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id))
        assert (second.status_code, only(second)["duplicate"]) == (200, True)
    else:
        assert post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id)).status_code == 201
        second = ingest(affnet_client, affnet_network, "conversion", api_body)
        assert (second.status_code, second.get_json()["duplicate"]) == (200, True)
    assert Event.select().count() == 1
    assert affiliate_balance(affnet_network) == Decimal("8.70")


def test_refund_before_its_payment_is_kept_and_applied_when_the_payment_arrives(
    affnet_client, affnet_network, offer, click_id
):
    early = post_event(affnet_client, offer.slug, event_text("charge_refunded_basil_partial"))
    assert early.status_code == 202
    assert (only(early)["pending"], only(early)["payout"]) == (True, "0.00")
    assert affiliate_balance(affnet_network) == Decimal("0")
    sale = only(post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id)))
    refund = Event.get(Event.kind == "refund")
    assert (refund.pending, refund.payout, refund.reverses.txid) == (False, Decimal("-3.00"), sale["txid"])
    assert affiliate_balance(affnet_network) == Decimal("5.70")


def test_wrong_signature_is_refused_with_400_and_writes_nothing(affnet_client, offer, click_id):
    payload = event_text(BASIL_SALE, click_id)
    for header in (
        sign(payload, secret="whsec_someone_elses_secret_000"),
        sign(payload + " "),
        "t=1,v1=abc",
        "garbage",
    ):
        response = post_event(affnet_client, offer.slug, payload, signature=header)
        assert response.status_code == 400
        assert "signature" in response.get_json()["error"].lower()
    assert post_event(affnet_client, offer.slug, payload, signature="").status_code == 400
    assert Event.select().count() == 0 and LedgerEntry.select().count() == 0


def test_stale_timestamp_is_refused_with_400_and_writes_nothing(affnet_client, offer, click_id):
    stale = int(time.time()) - stripe.Webhook.DEFAULT_TOLERANCE - 60
    response = post_event(affnet_client, offer.slug, event_text(BASIL_SALE, click_id), timestamp=stale)
    assert response.status_code == 400
    assert Event.select().count() == 0 and LedgerEntry.select().count() == 0


def test_unknown_offer_answers_404(affnet_client, offer):
    response = post_event(affnet_client, "no-such-offer", event_text("customer_created"))
    assert response.status_code == 404 and response.get_json()["error"]


def test_offer_without_a_signing_secret_answers_404(affnet_client, affnet_network):
    response = post_event(affnet_client, affnet_network.offer.slug, event_text("customer_created"))
    assert response.status_code == 404
    assert "set-secret" in response.get_json()["error"]


def test_signing_secret_is_stored_encrypted(offer):
    row = OfferSecret.get((OfferSecret.offer == offer.id) & (OfferSecret.name == SECRET_NAME))
    assert TEST_SECRET not in row.value and TEST_SECRET[6:] not in row.value
    assert row.hint == "…0001"


def test_signed_event_without_a_currency_answers_422_and_writes_nothing(affnet_client, offer, click_id):
    event = event_data(BASIL_SALE, click_id)
    del event["data"]["object"]["currency"]
    response = post_event(affnet_client, offer.slug, event)
    assert response.status_code == 422
    assert "currency" in response.get_json()["fields"]
    assert Event.select().count() == 0


def test_signed_body_that_is_not_an_event_answers_400(affnet_client, offer):
    for payload in ("[1, 2]", "not json", '"text"'):
        response = post_event(affnet_client, offer.slug, payload)
        assert (response.status_code, response.get_json()["error"]) == (400, "the body is not a Stripe event")
    assert Event.select().count() == 0


def test_an_invoice_larger_than_an_ingest_body_is_accepted(affnet_app, affnet_client, offer, click_id):
    event = event_data(BASIL_SALE, click_id)
    line = event["data"]["object"]["lines"]["data"][0]
    event["data"]["object"]["lines"]["data"] = [dict(line, id=f"il_seat_{n:03d}") for n in range(60)]
    payload = json.dumps(event, indent=2)
    assert len(payload) > affnet_app.config["MAX_CONTENT_LENGTH"]
    assert post_event(affnet_client, offer.slug, payload).status_code == 201


def test_a_body_over_the_webhook_limit_answers_413_and_writes_nothing(affnet_client, offer, click_id):
    event = event_data(BASIL_SALE, click_id)
    event["data"]["object"]["description"] = "x" * (600 * 1024)
    response = post_event(affnet_client, offer.slug, event)
    assert response.status_code == 413 and response.get_json()["error"]
    assert Event.select().count() == 0
