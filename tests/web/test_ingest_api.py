"""SPEC sections 2 and 3: the ingest API, attribution, idempotency, reversals."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from affnet.core.earnings import ledger
from affnet.core.storage.models import Event, LedgerEntry, Payout
from affnet.testing import click, click_id_of, ingest, sale_body
from affnet.core.storage.rate_limits import SweptMemoryStorage


@pytest.fixture
def click_id(affnet_client, affnet_network):
    return click_id_of(click(affnet_client, affnet_network.ref, s1="adset-7"))


def balance(network, currency="USD"):
    return ledger.balances(network.affiliate.id).get(currency, {}).get("balance", Decimal(0))


def test_conversion_answers_201_with_txid_event_status_attributed_payout_currency(
    affnet_client, affnet_network, click_id
):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"txid", "event", "status", "attributed", "payout", "currency", "duplicate"}
    assert (body["event"], body["status"], body["attributed"], body["duplicate"]) == ("sale", "sale", True, False)
    assert (body["payout"], body["currency"]) == ("8.70", "USD"), "30% of 29.00"
    assert Event.get(Event.txid == body["txid"]).external_payment_id == "pi_123"


def test_missing_offer_key_answers_401_and_writes_nothing(affnet_client, affnet_network, click_id):
    response = affnet_client.post("/api/ingest/conversion", json=sale_body(click_id))
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert Event.select().count() == 0


def test_wrong_offer_key_answers_401(affnet_client, affnet_network, click_id):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id), key="ok_wrong")
    assert response.status_code == 401
    assert Event.select().count() == 0


def test_rotated_offer_key_replaces_the_old_one(affnet_client, affnet_network, click_id):
    from affnet.core.network.accounts import rotate_offer_key

    old = affnet_network.offer_key
    affnet_network.offer_key = rotate_offer_key(affnet_network.offer)
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(click_id), key=old).status_code == 401
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).status_code == 201


def test_offer_key_is_stored_hashed(affnet_network):
    from affnet.core.storage.models import Offer

    row = Offer.get_by_id(affnet_network.offer.id)
    assert affnet_network.offer_key not in (row.key_hash, row.key_hint)
    assert row.key_hint == "…" + affnet_network.offer_key[-4:]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"event": "sale", "gross_amount": 29.0, "currency": "USD"}, "external_payment_id"),
        ({"event": "rebill", "gross_amount": 29.0, "external_payment_id": "pi_9"}, None),
        ({"event": "purchase", "external_payment_id": "pi_1", "gross_amount": 1}, "event"),
        ({"event": "sale", "external_payment_id": "pi_1", "gross_amount": -5, "currency": "USD"}, "gross_amount"),
        ({"event": "sale", "external_payment_id": "pi_1", "gross_amount": "ten", "currency": "USD"}, "gross_amount"),
        ({"event": "sale", "external_payment_id": "pi_1", "gross_amount": 1, "currency": "dollars"}, "currency"),
        ({"event": "sale", "external_payment_id": "pi_1"}, "gross_amount"),
        ({"event": "sale", "external_payment_id": 123, "gross_amount": 1}, "external_payment_id"),
        (
            {"event": "sale", "external_payment_id": "pi_1", "gross_amount": 1, "is_first_payment": "yes"},
            "is_first_payment",
        ),
        ({"event": "lead"}, "user_ref"),
        ({"event": "sale", "external_payment_id": "pi_1", "gross_amount": 1, "clickid": "x"}, "clickid"),
        ({"event": "sale", "external_payment_id": "x" * 300, "gross_amount": 1}, "external_payment_id"),
    ],
)
def test_invalid_conversion_answers_422_naming_the_field_and_writes_nothing(affnet_client, affnet_network, body, field):
    response = ingest(affnet_client, affnet_network, "conversion", body)
    if field is None:  # the control: a valid body is accepted
        assert response.status_code == 201
        return
    assert response.status_code == 422
    assert field in response.get_json()["fields"]
    assert Event.select().count() == 0 and LedgerEntry.select().count() == 0


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b"\"text\"", b"", b"\xff\xfe", b'{"event": "sale", "gross_amount": NaN}']
)
def test_malformed_body_answers_422(affnet_client, affnet_network, raw):
    response = affnet_client.post(
        "/api/ingest/conversion",
        data=raw,
        content_type="application/json",
        headers={"X-Offer-Key": affnet_network.offer_key},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]
    assert Event.select().count() == 0


def test_oversized_body_answers_413(affnet_client, affnet_network):
    body = sale_body(user_ref="u" * 10, padding="x" * 20000)
    response = ingest(affnet_client, affnet_network, "conversion", body)
    assert response.status_code == 413
    assert Event.select().count() == 0


@pytest.mark.parametrize("affnet_config", [{"ingest.rate_limit": "3 per minute"}])
def test_over_the_rate_limit_answers_429(affnet_client, affnet_network):
    codes = [
        ingest(affnet_client, affnet_network, "conversion", sale_body(payment=f"pi_{n}")).status_code for n in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    assert Event.select().count() == 3


@pytest.mark.parametrize("affnet_config", [{"ingest.rate_limit": "1000 per minute"}])
def test_the_rate_limit_starts_no_thread_per_request(affnet_client, affnet_network, monkeypatch):
    started = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (started.append(thread), original(thread)))
    for n in range(30):
        assert ingest(affnet_client, affnet_network, "conversion", sale_body(payment=f"pi_{n}")).status_code == 201
    assert started == []


def test_the_rate_limit_memory_sweeps_expired_counters_once_a_second():
    storage = SweptMemoryStorage()
    storage.incr("old", expiry=0.01)
    time.sleep(0.02)
    storage.incr("kept", expiry=60)
    assert "old" in storage.expirations, "no sweep within a second of the last one"
    storage._swept_at -= 1  # a second has passed since the last sweep
    storage.incr("kept", expiry=60)
    assert "old" not in storage.expirations and storage.get("kept") == 2


def test_amounts_are_exact_decimals_never_floats(affnet_client, affnet_network, click_id):
    body = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=0.1)).get_json()
    event = Event.get(Event.txid == body["txid"])
    assert event.gross_amount == Decimal("0.1")
    assert body["payout"] == "0.03", "30% of 0.10 rounds half-up to 0.03"
    assert LedgerEntry.get().amount == Decimal("0.03")


def test_string_amounts_are_accepted_as_decimals(affnet_client, affnet_network, click_id):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount="19.99"))
    assert response.get_json()["payout"] == "6.00"


def test_percent_commission_rounds_half_up_to_the_minor_unit(affnet_client, affnet_network, click_id):
    # 30% of 1.15 = 0.345 -> 0.35 (half-up), not 0.34 (banker's)
    assert (
        ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=1.15)).get_json()["payout"]
        == "0.35"
    )


def test_fixed_commission_pays_its_amount_in_the_offers_currency(affnet_client, affnet_network, click_id):
    body = {"event": "trial", "click_id": click_id, "user_ref": "cus_1"}
    assert ingest(affnet_client, affnet_network, "conversion", body).get_json()["payout"] == "2.00"


def test_zero_decimal_currency_commission_stays_whole(affnet_client, affnet_network, click_id):
    body = sale_body(click_id, amount=2999, currency="JPY")
    answer = ingest(affnet_client, affnet_network, "conversion", body).get_json()
    assert (answer["payout"], answer["currency"]) == ("900", "JPY"), "30% of ¥2999 = 899.7 -> 900"
    assert set(ledger.balances(affnet_network.affiliate.id)) == {"JPY"}, "balances are kept per currency"


def test_attribution_by_click_id(affnet_client, affnet_network, click_id):
    event = Event.get(
        Event.txid == ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    )
    assert event.click.click_id == click_id
    assert event.participation_id == affnet_network.participation.id


def test_conversion_one_second_after_its_click_attributes(affnet_client, affnet_network, affnet_clock):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    affnet_clock.advance(seconds=1)
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["attributed"]


def test_rebill_without_click_id_attributes_by_user_ref(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, user_ref="cus_42"))
    rebill = {
        "event": "rebill",
        "user_ref": "cus_42",
        "external_payment_id": "pi_2",
        "gross_amount": 29.0,
        "currency": "USD",
    }
    answer = ingest(affnet_client, affnet_network, "conversion", rebill).get_json()
    assert answer["attributed"] is True and answer["payout"] == "5.80", "20% rebill"
    assert Event.get(Event.txid == answer["txid"]).participation_id == affnet_network.participation.id


def test_unknown_click_id_falls_back_to_user_ref(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, user_ref="cus_42"))
    body = {
        "event": "rebill",
        "click_id": "no-such-click",
        "user_ref": "cus_42",
        "external_payment_id": "pi_2",
        "gross_amount": 29.0,
    }
    assert ingest(affnet_client, affnet_network, "conversion", body).get_json()["attributed"] is True


def test_click_older_than_the_cookie_window_does_not_attribute(affnet_client, affnet_network, affnet_clock):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    affnet_clock.advance(days=60, seconds=1)
    answer = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()
    assert answer["attributed"] is False and answer["payout"] == "0.00"


def test_click_inside_the_cookie_window_attributes(affnet_client, affnet_network, affnet_clock):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    affnet_clock.advance(days=59, hours=23)
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["attributed"]


def test_click_of_another_offer_does_not_attribute(affnet_client, affnet_network):
    from affnet.core.network import accounts

    other_offer, _ = accounts.create_offer(affnet_network.advertiser, "Other", "https://other.example/")
    other = accounts.apply(affnet_network.affiliate, other_offer)
    accounts.set_participation_status(other, "approved")
    foreign_click = click_id_of(click(affnet_client, other.ref_code))
    assert (
        ingest(affnet_client, affnet_network, "conversion", sale_body(foreign_click)).get_json()["attributed"] is False
    )


def test_unattributed_event_is_stored_and_earns_nothing(affnet_client, affnet_network):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(user_ref="cus_nobody"))
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["attributed"] is False and answer["payout"] == "0.00"
    assert Event.get(Event.txid == answer["txid"]).participation_id is None
    assert LedgerEntry.select().count() == 0


def test_duplicate_payment_is_counted_once(affnet_client, affnet_network, click_id):
    first = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    second = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json() == {**first.get_json(), "duplicate": True}
    assert Event.select().count() == 1 and LedgerEntry.select().count() == 1


def test_same_payment_id_with_another_event_kind_is_the_same_event(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    rebill = sale_body(click_id, event="rebill", is_first_payment=False)
    assert ingest(affnet_client, affnet_network, "conversion", rebill).get_json()["duplicate"] is True
    assert Event.select().count() == 1


def test_same_payment_id_on_another_offer_is_another_event(affnet_client, affnet_network, click_id):
    from affnet.core.network import accounts

    other_offer, other_key = accounts.create_offer(affnet_network.advertiser, "Other", "https://other.example/")
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(), key=other_key)
    assert response.status_code == 201 and Event.select().count() == 2


@pytest.mark.parametrize("kind", ["lead", "trial"])
def test_lead_and_trial_without_payment_id_deduplicate_on_user_ref(affnet_client, affnet_network, click_id, kind):
    body = {"event": kind, "click_id": click_id, "user_ref": "cus_7"}
    codes = [ingest(affnet_client, affnet_network, "conversion", body).status_code for _ in range(3)]
    assert codes == [201, 200, 200]
    assert LedgerEntry.select().count() == 1


def test_lead_without_user_ref_deduplicates_on_click_id(affnet_client, affnet_network, click_id):
    body = {"event": "lead", "click_id": click_id}
    answers = [ingest(affnet_client, affnet_network, "conversion", body) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 200]
    assert answers[1].get_json() == {**answers[0].get_json(), "duplicate": True}
    assert (Event.select().count(), LedgerEntry.select().count()) == (1, 1)
    other = click_id_of(click(affnet_client, affnet_network.ref))
    assert ingest(affnet_client, affnet_network, "conversion", {"event": "lead", "click_id": other}).status_code == 201
    assert (Event.select().count(), LedgerEntry.select().count()) == (2, 2), "another click's lead is its own"


@pytest.mark.parametrize("event, status", [("lead", "lead"), ("trial", "lead"), ("sale", "sale"), ("rebill", "sale")])
def test_status_mapping_of_conversions(affnet_client, affnet_network, click_id, event, status):
    body = {"event": event, "click_id": click_id, "user_ref": "c", "external_payment_id": "p", "gross_amount": 9}
    assert ingest(affnet_client, affnet_network, "conversion", body).get_json()["status"] == status


@pytest.mark.parametrize("call", ["refund", "chargeback"])
def test_status_mapping_of_reversals_is_rejected(affnet_client, affnet_network, click_id, call):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    answer = ingest(affnet_client, affnet_network, call, {"external_payment_id": "pi_123"}).get_json()
    assert (answer["event"], answer["status"]) == (call, "rejected")


@pytest.mark.parametrize("call", ["refund", "chargeback"])
def test_reversal_books_a_negative_ledger_entry_for_the_whole_commission(affnet_client, affnet_network, click_id, call):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    response = ingest(affnet_client, affnet_network, call, {"external_payment_id": "pi_123"})
    assert response.status_code == 201
    assert response.get_json()["payout"] == "-8.70"
    assert [entry.amount for entry in LedgerEntry.select().order_by(LedgerEntry.id)] == [
        Decimal("8.70"),
        Decimal("-8.70"),
    ]
    assert balance(affnet_network) == 0


def test_partial_refund_reverses_the_commission_in_proportion(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=100))
    answer = ingest(
        affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123", "amount": 25, "refund_id": "re_1"}
    ).get_json()
    assert answer["payout"] == "-7.50", "a quarter of 30.00"
    assert balance(affnet_network) == Decimal("22.50")


def test_several_partial_refunds_with_refund_ids_each_count_once(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=100))
    for refund_id in ("re_1", "re_2", "re_1", "re_2"):
        ingest(
            affnet_client,
            affnet_network,
            "refund",
            {"external_payment_id": "pi_123", "amount": 40, "refund_id": refund_id},
        )
    assert balance(affnet_network) == Decimal("6.00"), "30 - 12 - 12"
    assert Event.select().where(Event.kind == "refund").count() == 2


def test_refunds_never_reverse_more_than_the_commission(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=100))
    ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123", "amount": 80, "refund_id": "a"})
    last = ingest(affnet_client, affnet_network, "chargeback", {"external_payment_id": "pi_123"}).get_json()
    assert last["payout"] == "-6.00"
    assert balance(affnet_network) == 0


def test_refund_without_refund_id_is_idempotent_on_the_payment(affnet_client, affnet_network, click_id):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    first = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"})
    again = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == {**first.get_json(), "duplicate": True}
    assert LedgerEntry.select().count() == 2


def test_refund_after_payout_leaves_a_negative_balance(affnet_client, affnet_network, click_id, affnet_clock):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    payout = Payout.create(
        affiliate=affnet_network.affiliate,
        currency="USD",
        amount=Decimal("8.70"),
        method="wise",
        status="sent",
        idempotency_key="payout-1",
    )
    LedgerEntry.create(
        affiliate=affnet_network.affiliate,
        currency="USD",
        amount=Decimal("-8.70"),
        kind="payout",
        payout=payout,
        available_at=affnet_clock.now,
    )
    assert balance(affnet_network) == 0
    ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"})
    assert balance(affnet_network) == Decimal("-8.70"), "settled from later earnings"


def test_refund_before_its_payment_is_kept_202_and_applied_when_the_payment_arrives(
    affnet_client, affnet_network, click_id
):
    early = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"})
    assert early.status_code == 202
    assert early.get_json()["pending"] is True
    assert LedgerEntry.select().count() == 0
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    refund = Event.get(Event.kind == "refund")
    assert refund.pending is False and refund.reverses.external_payment_id == "pi_123"
    assert refund.payout == Decimal("-8.70")
    assert balance(affnet_network) == 0


def test_invalid_refund_answers_422(affnet_client, affnet_network):
    for body in (
        {},
        {"external_payment_id": "pi_1", "amount": -1},
        {"external_payment_id": "pi_1", "amount": 0},
        {"external_payment_id": "pi_1", "reason": "x"},
    ):
        assert ingest(affnet_client, affnet_network, "refund", body).status_code == 422
    assert Event.select().count() == 0


def test_commission_becomes_payable_after_the_offers_hold(affnet_client, affnet_network, click_id, affnet_clock):
    start = affnet_clock.now
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_2"))
    ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_2"})
    now = ledger.balances(affnet_network.affiliate.id, at=start)["USD"]
    assert (now["balance"], now["payable"], now["pending"]) == (Decimal("8.70"), Decimal("-8.70"), Decimal("17.40")), (
        "reversals count at once; both commissions are in their hold"
    )
    later = ledger.balances(affnet_network.affiliate.id, at=start + timedelta(days=7))["USD"]
    assert later["payable"] == Decimal("8.70")


def test_rebill_stops_earning_after_the_rule_months(affnet_client, affnet_network, click_id, affnet_clock):
    from affnet.core.network import accounts

    accounts.set_rule(affnet_network.offer, accounts.RuleSpec.parse("rebill=20%:2"))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, user_ref="cus_9"))
    payouts = []
    for month in range(1, 4):
        affnet_clock.advance(days=31)
        body = {"event": "rebill", "user_ref": "cus_9", "external_payment_id": f"pi_m{month}", "gross_amount": 29}
        payouts.append(ingest(affnet_client, affnet_network, "conversion", body).get_json()["payout"])
    assert payouts == ["5.80", "0.00", "0.00"], "2 months after the first payment, rebills earn nothing"


def test_partial_refunds_that_reach_the_whole_payment_reverse_the_whole_commission(
    affnet_client, affnet_network, click_id
):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, amount=10))  # 3.00 commission
    for n in range(3):  # 3.31 + 3.31 + 3.38: shares 0.99 + 0.99 + 1.01 would leave a cent behind
        amount = 3.38 if n == 2 else 3.31
        ingest(
            affnet_client,
            affnet_network,
            "refund",
            {"external_payment_id": "pi_123", "amount": amount, "refund_id": f"re_{n}"},
        )
    assert balance(affnet_network) == 0


def test_a_refund_recorded_blind_to_its_simultaneous_payment_is_applied_by_the_worker(
    affnet_client, affnet_network, click_id, affnet_worker
):
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    # as if the refund's transaction had not seen the payment's: it waits, pending, beside it
    from affnet.core.storage.models import Event as EventRow

    refund = ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_999"}).get_json()
    EventRow.update(external_payment_id="pi_123").where(EventRow.txid == refund["txid"]).execute()
    affnet_worker.run_once()
    row = EventRow.get(EventRow.txid == refund["txid"])
    assert row.pending is False and row.payout == Decimal("-8.70")
    assert balance(affnet_network) == 0
    assert affnet_worker.services.recorder.apply_waiting_reversals() == 0, "applied once only"


def test_an_api_call_opens_no_session_and_a_page_does(affnet_app):
    from flask import session
    from flask.sessions import NullSession

    with affnet_app.test_request_context("/api/ingest/conversion", method="POST"):
        assert isinstance(session._get_current_object(), NullSession)
    with affnet_app.test_request_context("/"):
        assert not isinstance(session._get_current_object(), NullSession)


def test_a_call_other_than_post_answers_405_in_json(affnet_client, affnet_network):
    response = affnet_client.get("/api/ingest/conversion", headers={"X-Offer-Key": affnet_network.offer_key})
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert response.get_json() == {"error": "use POST", "fields": {}}


def test_an_unknown_ingest_call_answers_404_in_json(affnet_client, affnet_network):
    response = ingest(affnet_client, affnet_network, "purchase", sale_body())
    assert response.status_code == 404 and "/api/ingest/conversion" in response.get_json()["error"]
    assert Event.select().count() == 0


def test_a_bug_answers_json_and_is_logged_never_an_html_page(
    affnet_client, affnet_network, click_id, monkeypatch, caplog
):
    from affnet.core.events import ingest as core_ingest

    def bug(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(core_ingest, "attribute", bug)
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert response.status_code == 500 and response.is_json
    assert response.get_json()["error"].startswith("internal error; nothing was recorded")
    assert "ingest /api/ingest/conversion failed" in caplog.text and "KeyError" in caplog.text
    assert Event.select().count() == 0


def test_a_body_without_content_length_is_read_and_held_to_the_size_limit(affnet_client, affnet_network, click_id):
    import io
    import json

    def post_unsized(body: bytes):
        return affnet_client.post(
            "/api/ingest/conversion",
            input_stream=io.BytesIO(body),
            headers={"X-Offer-Key": affnet_network.offer_key, "Transfer-Encoding": "chunked"},
            environ_overrides={"CONTENT_LENGTH": ""},
        )  # as a server hands on a chunked body

    assert post_unsized(json.dumps(sale_body(click_id)).encode()).status_code == 201
    oversized = json.dumps(sale_body(click_id, payment="pi_big", padding="x" * 20000)).encode()
    assert post_unsized(oversized).status_code == 413
    assert Event.select().count() == 1
