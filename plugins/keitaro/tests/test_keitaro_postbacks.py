"""Postbacks end to end: a click, events through the ingest API, the worker,
and a fake Keitaro on 127.0.0.1 (SPEC sections 3, 4 and 6)."""

import socket
from datetime import timedelta

import pytest
from affnet.testing import FakeReceiver

import affnet_keitaro.plugin as keitaro
from affnet.core.deliveries import outbox, setting_versions
from affnet.core.storage.models import Delivery, DeliveryAttempt
from affnet.testing import click, click_id_of, ingest, sale_body

KEITARO = "/postback?subid={clickid}&status={status}&payout={payout}&currency={currency}"
LOCAL = {"deliveries.allow_private_targets": True}


@pytest.fixture
def affnet_plugins():
    return [keitaro]


@pytest.fixture
def affnet_config():
    return LOCAL


@pytest.fixture
def tracker():
    fake = FakeReceiver()
    yield fake
    fake.close()


def set_postback(network, url, services=None):
    delay = services.settings["settings.change_delay_hours"] if services else 24
    version, _ = setting_versions.save(
        keitaro.POSTBACK, network.affiliate, {"url": url}, participation=network.participation, delay_hours=delay
    )
    return version


def attempts_of(delivery):
    return list(DeliveryAttempt.select().where(DeliveryAttempt.delivery == delivery.id).order_by(DeliveryAttempt.id))


def test_sale_rebill_and_refund_reach_keitaro_with_subid_status_payout_and_currency(
    affnet_client, affnet_network, affnet_worker, affnet_clock, tracker
):
    set_postback(affnet_network, tracker.base + KEITARO)
    landing = click(affnet_client, affnet_network.ref, s1="ad-7", clickid="kt-987")
    click_id = click_id_of(landing)
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, "pi_123", 29.0)).status_code == 201
    affnet_clock.advance(days=30)
    rebill = sale_body(click_id, "pi_124", 29.0, event="rebill", is_first_payment=False)
    assert ingest(affnet_client, affnet_network, "conversion", rebill).status_code == 201
    affnet_clock.advance(days=1)
    assert ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"}).status_code == 201

    counts = affnet_worker.run_once()

    assert counts["sent"] == 3
    assert len(tracker.requests) == 3
    got = sorted((r["query"]["status"], r["query"]["payout"]) for r in tracker.requests)
    assert got == [("rejected", "-8.70"), ("sale", "5.80"), ("sale", "8.70")]
    assert {r["query"]["subid"] for r in tracker.requests} == {"kt-987"}, "the link's clickid wins over s1"
    assert {r["query"]["currency"] for r in tracker.requests} == {"USD"}
    assert {r["path"] for r in tracker.requests} == {"/postback"}

    tracker.answer_next((503, {}, "Keitaro is restarting"))
    affnet_clock.advance(days=1)
    second = sale_body(click_id, "pi_125", 29.0, event="rebill", is_first_payment=False)
    assert ingest(affnet_client, affnet_network, "conversion", second).status_code == 201
    assert affnet_worker.run_once()["retry"] == 1
    assert len(tracker.requests) == 4, "the 503 was one GET"
    waiting = Delivery.get(Delivery.status == "pending")
    assert waiting.attempts == 1 and "503" in waiting.last_error
    assert affnet_worker.run_once().get("claimed", 0) == 0, "nothing is resent before the backoff"

    affnet_clock.advance(seconds=outbox.RetryPolicy.from_settings(affnet_worker.settings).base_seconds * 1.2)
    assert affnet_worker.run_once()["sent"] == 1
    assert len(tracker.requests) == 5
    assert tracker.requests[-1]["query"] == {"subid": "kt-987", "status": "sale", "payout": "5.80", "currency": "USD"}
    log = attempts_of(Delivery.get_by_id(waiting.id))
    assert [(a.outcome, a.status_code) for a in log] == [("retry", 503), ("sent", 200)]
    assert log[0].response_excerpt == "Keitaro is restarting"
    assert log[1].at - log[0].at >= timedelta(seconds=54)


def test_s1_is_the_subid_when_the_link_had_no_clickid(affnet_client, affnet_network, affnet_worker, tracker):
    set_postback(affnet_network, tracker.base + "/pb?subid={subid}&c={clickid}&s={sub1}&s2={sub2}&t={txid}")
    click_id = click_id_of(click(affnet_client, affnet_network.ref, s1="fb-ad-42", s2="a%20b%26c"))
    answer = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()
    affnet_worker.run_once()
    (request,) = tracker.requests
    assert request["query"] == {
        "subid": "fb-ad-42",
        "c": "fb-ad-42",
        "s": "fb-ad-42",
        "s2": "a b&c",
        "t": answer["txid"],
    }
    assert "s2=a%20b%26c" in request["raw_query"], "values are URL-encoded"


def test_a_postback_fires_on_leads_and_trials_with_status_lead(affnet_client, affnet_network, affnet_worker, tracker):
    set_postback(affnet_network, tracker.base + "/pb?subid={clickid}&status={status}&event={event}&payout={payout}")
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    for event in ("lead", "trial"):
        body = {"click_id": click_id, "user_ref": "cus_9", "event": event}
        assert ingest(affnet_client, affnet_network, "conversion", body).status_code == 201
    affnet_worker.run_once()
    got = sorted((r["query"]["event"], r["query"]["status"], r["query"]["payout"]) for r in tracker.requests)
    assert got == [("lead", "lead", "0.50"), ("trial", "lead", "2.00")]
    assert {r["query"]["subid"] for r in tracker.requests} == {click_id}, "without clickid or s1: affnet's click_id"


def test_chargeback_fires_a_rejected_postback_with_negative_payout(
    affnet_client, affnet_network, affnet_worker, tracker
):
    set_postback(affnet_network, tracker.base + "/pb?subid={clickid}&status={status}&payout={payout}&e={event}")
    click_id = click_id_of(click(affnet_client, affnet_network.ref, clickid="kt-1"))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, "pi_9", 100))
    ingest(affnet_client, affnet_network, "chargeback", {"external_payment_id": "pi_9"})
    affnet_worker.run_once()
    assert sorted((r["query"]["e"], r["query"]["status"], r["query"]["payout"]) for r in tracker.requests) == [
        ("chargeback", "rejected", "-30.00"),
        ("sale", "sale", "30.00"),
    ]


def test_an_event_uses_the_postback_url_in_force_when_it_happened(
    affnet_client, affnet_network, affnet_worker, affnet_clock, affnet_services, tracker
):
    set_postback(affnet_network, tracker.base + "/old?subid={clickid}&status={status}")
    affnet_clock.advance(days=3)
    set_postback(affnet_network, tracker.base + "/new?subid={clickid}&status={status}", affnet_services)
    click_id = click_id_of(click(affnet_client, affnet_network.ref, clickid="kt-5"))

    affnet_clock.advance(hours=1)
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, "pi_1"))
    affnet_clock.advance(hours=24)
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, "pi_2", event="rebill"))
    affnet_worker.run_once()  # both sent only now, 25 h after the change

    by_path = sorted((r["path"], r["query"]["status"]) for r in tracker.requests)
    assert by_path == [("/new", "sale"), ("/old", "sale")]
    first, second = (
        setting_versions.decrypt_values(d.setting.values)["url"] for d in Delivery.select().order_by(Delivery.id)
    )
    assert first.startswith(tracker.base + "/old"), "1 h after the change: the old URL"
    assert second.startswith(tracker.base + "/new"), "25 h after the change: the new URL"


@pytest.mark.parametrize("affnet_config", [{"deliveries.allow_private_targets": False}])
@pytest.mark.parametrize(
    "host, reason",
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("kt.tracker.example", "kt.tracker.example resolves to 10.0.0.1"),
    ],
)
def test_a_postback_to_a_private_address_is_refused_and_the_reason_is_logged(
    affnet_client, affnet_network, affnet_worker, tracker, monkeypatch, host, reason
):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda name, port, *a, **k: real("10.0.0.1" if name == "kt.tracker.example" else name, port, *a, **k),
    )
    set_postback(affnet_network, f"http://{host}:{tracker.port}{KEITARO}")
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert affnet_worker.run_once()["failed"] == 1
    delivery = Delivery.get()
    (attempt,) = attempts_of(delivery)
    assert delivery.status == "failed" and attempt.outcome == "failed"
    assert reason in attempt.error and "deliveries.allow_private_targets is off" in attempt.error
    assert attempt.status_code is None
    assert tracker.requests == []


def test_a_4xx_answer_fails_at_once_without_retry(affnet_client, affnet_network, affnet_worker, affnet_clock, tracker):
    tracker.answer_next((404, {}, "Unknown postback key"))
    set_postback(affnet_network, tracker.base + KEITARO)
    ingest(
        affnet_client, affnet_network, "conversion", sale_body(click_id_of(click(affnet_client, affnet_network.ref)))
    )
    assert affnet_worker.run_once()["failed"] == 1
    affnet_clock.advance(days=2)
    affnet_worker.run_once()
    assert len(tracker.requests) == 1
    (attempt,) = attempts_of(Delivery.get())
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == ("failed", 404, "Unknown postback key")


def test_429_is_retried_after_the_delay_the_tracker_asked_for(
    affnet_client, affnet_network, affnet_worker, affnet_clock, tracker
):
    tracker.answer_next((429, {"Retry-After": "900"}, "slow down"))
    set_postback(affnet_network, tracker.base + KEITARO)
    ingest(
        affnet_client, affnet_network, "conversion", sale_body(click_id_of(click(affnet_client, affnet_network.ref)))
    )
    assert affnet_worker.run_once()["retry"] == 1
    delivery = Delivery.get()
    assert delivery.next_attempt_at == affnet_clock.now + timedelta(seconds=900)
    affnet_clock.advance(seconds=899)
    assert affnet_worker.run_once().get("claimed", 0) == 0
    affnet_clock.advance(seconds=1)
    assert affnet_worker.run_once()["sent"] == 1


def test_a_tracker_that_is_down_is_retried_with_the_network_error_logged(
    affnet_client, affnet_network, affnet_worker, tracker
):
    tracker.close()  # nothing listens on that port any more
    set_postback(affnet_network, tracker.base + KEITARO)
    ingest(
        affnet_client, affnet_network, "conversion", sale_body(click_id_of(click(affnet_client, affnet_network.ref)))
    )
    assert affnet_worker.run_once()["retry"] == 1
    (attempt,) = attempts_of(Delivery.get())
    assert attempt.outcome == "retry" and attempt.error.startswith("network error")


def test_a_failing_postback_is_tried_at_least_8_times_over_at_least_24_hours(
    affnet_client, affnet_network, affnet_worker, affnet_clock, tracker, monkeypatch
):
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: 1.0)  # the backoff without its jitter
    tracker.answers = [(500, {}, "down")]
    set_postback(affnet_network, tracker.base + KEITARO)
    ingest(
        affnet_client, affnet_network, "conversion", sale_body(click_id_of(click(affnet_client, affnet_network.ref)))
    )
    delivery = Delivery.get()
    for _ in range(20):
        delivery = Delivery.get_by_id(delivery.id)
        if delivery.status != "pending":
            break
        affnet_clock.set(max(affnet_clock.now, delivery.next_attempt_at))
        affnet_worker.run_once()
    log = attempts_of(delivery)
    assert delivery.status == "failed"
    assert len(log) == len(tracker.requests) == affnet_worker.settings["worker.max_attempts"] >= 8
    assert log[-1].at - log[0].at >= timedelta(hours=24)
    assert [a.outcome for a in log] == ["retry"] * (len(log) - 1) + ["failed"]
    assert all(a.status_code == 500 and a.response_excerpt == "down" for a in log), "each attempt is logged"


def test_the_default_retry_policy_spreads_at_least_8_attempts_over_24_hours_even_with_jitter():
    from affnet.config import load_settings

    policy = outbox.RetryPolicy.from_settings(load_settings(None, environ={}))
    assert (policy.max_attempts, policy.base_seconds, policy.factor, policy.max_seconds) == (12, 60, 3, 21600)
    nominal = [
        min(policy.base_seconds * policy.factor ** (n - 1), policy.max_seconds) for n in range(1, policy.max_attempts)
    ]
    assert nominal == [60, 180, 540, 1620, 4860, 14580, 21600, 21600, 21600, 21600, 21600]
    assert sum(nominal) == 129840  # 36 h 04 min from the first attempt to the twelfth
    assert policy.max_attempts >= 8
    assert sum(nominal) * 0.9 >= 24 * 3600, "with the jitter at its lowest the span is still 32.5 h"
    waits = [policy.delay(n) for n in range(1, policy.max_attempts)]
    assert all(0.9 * want <= got <= 1.1 * want for got, want in zip(waits, nominal))
