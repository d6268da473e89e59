"""The outbox and the worker: one transaction with the event, claims, retries."""

import threading
from datetime import timedelta

import pytest

from affnet.core.deliveries import outbox, setting_versions
from affnet.core.storage.models import Delivery, DeliveryAttempt, Event, LedgerEntry
from affnet.testing import click, click_id_of, ingest, sale_body
from tests import sample_plugin


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


@pytest.fixture
def configured(affnet_network):
    setting_versions.save(
        sample_plugin.KIND, affnet_network.affiliate, {"url": "https://receiver.example/hit", "token": "s3cr3t-token"}
    )
    return affnet_network


def sell(client, network, payment="pi_123"):
    click_id = click_id_of(click(client, network.ref))
    return ingest(client, network, "conversion", sale_body(click_id, payment=payment))


def test_event_is_stored_with_its_deliveries(affnet_client, configured):
    txid = sell(affnet_client, configured).get_json()["txid"]
    delivery = Delivery.get()
    assert delivery.event.txid == txid and delivery.status == "pending"
    assert delivery.payload == {"txid": txid, "kind": "sale", "payout": "8.70", "test": False}


def test_a_failed_delivery_write_records_no_event_either(affnet_client, configured, monkeypatch):
    real = outbox.deliveries_for

    def refused_by_the_database(*args):
        deliveries = real(*args)
        for delivery in deliveries:
            delivery.setting = 10**9  # no such setting version: the foreign key refuses the row
        return deliveries

    monkeypatch.setattr(outbox, "deliveries_for", refused_by_the_database)
    response = sell(affnet_client, configured)
    assert response.status_code == 503
    assert Event.select().count() == 0 and LedgerEntry.select().count() == 0


def test_no_setting_means_no_delivery(affnet_client, affnet_network):
    sell(affnet_client, affnet_network)
    assert Delivery.select().count() == 0


def test_a_plugin_that_raises_never_breaks_the_ingest_answer(affnet_client, configured, monkeypatch):
    def boom(event, settings):
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(sample_plugin, "deliveries_for_event", boom)
    from affnet.app import create_app  # a fresh app registers the broken implementation

    app = create_app(
        affnet_client.application.extensions["affnet"].settings, extra_plugins=[sample_plugin], load_entrypoints=False
    )
    response = sell(app.test_client(), configured)
    assert response.status_code == 201
    assert Event.select().count() == 1


def test_worker_sends_due_deliveries_with_decrypted_settings(affnet_client, configured, affnet_worker):
    sell(affnet_client, configured)
    counts = affnet_worker.run_once()
    assert counts["sent"] == 1
    payload, settings = sample_plugin.sent[0]
    assert settings == {"url": "https://receiver.example/hit", "token": "s3cr3t-token"}
    delivery = Delivery.get()
    assert delivery.status == "sent" and delivery.attempts == 1
    assert DeliveryAttempt.get().outcome == "sent"


def test_secret_setting_is_stored_encrypted(configured):
    from affnet.core.storage.models import SettingVersion

    stored = SettingVersion.get().values
    assert stored["url"].startswith("sealed:"), "a URL may carry credentials: sealed too"
    assert setting_versions.decrypt_values(stored)["url"] == "https://receiver.example/hit"
    assert "s3cr3t-token" not in stored["token"] and stored["token"].startswith("fernet:")


def test_failed_delivery_is_retried_after_its_backoff(affnet_client, configured, affnet_worker, affnet_clock):
    sell(affnet_client, configured)
    sample_plugin.script.extend(["retry"])
    assert affnet_worker.run_once()["retry"] == 1
    assert affnet_worker.run_once() == {"claimed": 0}, "not due before its backoff"
    affnet_clock.advance(seconds=70)
    assert affnet_worker.run_once()["sent"] == 1
    assert [a.outcome for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)] == ["retry", "sent"]


def test_permanent_failure_is_not_retried(affnet_client, configured, affnet_worker, affnet_clock):
    sell(affnet_client, configured)
    sample_plugin.script.append("failed")
    affnet_worker.run_once()
    affnet_clock.advance(days=3)
    assert affnet_worker.run_once() == {"claimed": 0}
    assert Delivery.get().status == "failed"


def test_delivery_fails_for_good_after_max_attempts(affnet_client, configured, affnet_worker, affnet_clock):
    sell(affnet_client, configured)
    sample_plugin.script.extend(["retry"] * 20)
    for _ in range(15):
        affnet_worker.run_once()
        affnet_clock.advance(hours=7)
    delivery = Delivery.get()
    assert (delivery.status, delivery.attempts) == ("failed", 12)


def test_default_retry_policy_makes_at_least_8_attempts_over_at_least_24_hours():
    policy = outbox.RetryPolicy()
    waits = [policy.base_seconds * policy.factor ** (n - 1) for n in range(1, policy.max_attempts)]
    waits = [min(wait, policy.max_seconds) for wait in waits]
    assert policy.max_attempts >= 8
    assert sum(waits) * 0.9 >= 24 * 3600, "even with the jitter at its lowest"
    assert all(0.9 * w <= policy.delay(n + 1) <= 1.1 * w for n, w in enumerate(waits))


def test_manual_resend_sends_a_failed_delivery_again(affnet_client, configured, affnet_worker):
    sell(affnet_client, configured)
    sample_plugin.script.append("failed")
    affnet_worker.run_once()
    outbox.resend(Delivery.get())
    assert affnet_worker.run_once()["sent"] == 1


def test_claims_are_exclusive_between_concurrent_workers(affnet_client, configured):
    for n in range(40):
        sell(affnet_client, configured, payment=f"pi_{n}")
    claimed, barrier = {}, threading.Barrier(4)

    def claim(worker):
        barrier.wait()
        claimed[worker] = [d.id for d in outbox.claim_due(worker, 15, 300)]

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(4)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    every = [delivery_id for ids in claimed.values() for delivery_id in ids]
    assert len(every) == len(set(every)) == 40


def test_an_expired_claim_is_claimed_again(affnet_client, configured, affnet_clock):
    sell(affnet_client, configured)
    assert len(outbox.claim_due("dead-worker", 10, 300)) == 1
    assert outbox.claim_due("other", 10, 300) == []
    affnet_clock.advance(seconds=301)
    assert len(outbox.claim_due("other", 10, 300)) == 1


def test_a_stopping_worker_gives_back_its_claims(affnet_client, configured):
    sell(affnet_client, configured)
    outbox.claim_due("stopping", 10, 300)
    assert outbox.release_claims("stopping") == 1
    assert len(outbox.claim_due("other", 10, 300)) == 1


def test_worker_stops_on_sigterm_and_releases_claims(affnet_app, configured, affnet_worker):
    import os
    import signal

    with affnet_app.test_client() as client:
        sell(client, configured)
    outbox.claim_due(affnet_worker.worker_id, 10, 300)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    affnet_worker.run()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert affnet_worker.stopping.is_set()
    assert Delivery.get().status in ("pending", "sent")
    assert Delivery.get().claimed_by is None


def test_kind_without_an_enabled_plugin_is_kept_for_later(affnet_client, configured, affnet_worker, affnet_clock):
    sell(affnet_client, configured)
    affnet_worker.services.registry.owners.pop("sample")
    counts = affnet_worker.run_once()
    assert counts["unowned"] == 1
    delivery = Delivery.get()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at >= affnet_clock.now + timedelta(minutes=59)


def test_test_send_goes_out_at_once_marked_as_a_test_and_touches_no_money(affnet_services, configured):
    from affnet.core.earnings import ledger
    from affnet.plugins import EventInfo, OfferInfo
    from decimal import Decimal

    offer = configured.offer
    info = EventInfo(
        txid="test",
        kind="sale",
        status="sale",
        occurred_at=offer.created_at,
        offer=OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency),
        attributed=True,
        affiliate_id=configured.affiliate.id,
        participation_id=None,
        ref_code=None,
        payout=Decimal("1.00"),
        payout_currency="USD",
        gross_amount=None,
        currency=None,
        user_ref=None,
        external_payment_id=None,
        is_first_payment=False,
        click=None,
        is_test=True,
    )
    delivery = outbox.send_test(
        affnet_services.pm,
        affnet_services.registry,
        affnet_services.plugin_config,
        "sample",
        info,
        {"url": "https://new.example/hit", "token": "t"},
    )
    assert delivery.is_test and delivery.status == "sent"
    assert sample_plugin.sent[0] == (
        {"txid": "test", "kind": "sale", "payout": "1.00", "test": True},
        {"url": "https://new.example/hit", "token": "t"},
    )
    assert ledger.balances(configured.affiliate.id) == {}


def test_a_participations_own_setting_wins_over_the_affiliate_wide_one(affnet_client, configured, affnet_clock):
    setting_versions.save(
        sample_plugin.KIND,
        configured.affiliate,
        {"url": "https://own.example/hit"},
        participation=configured.participation,
    )
    sell(affnet_client, configured)
    assert setting_versions.decrypt_values(Delivery.get().setting.values)["url"] == "https://own.example/hit"


def test_a_setting_switched_off_sends_nothing(affnet_client, configured, affnet_clock):
    setting_versions.save(sample_plugin.KIND, configured.affiliate, {}, enabled=False, delay_hours=0)
    affnet_clock.advance(seconds=1)
    sell(affnet_client, configured)
    assert Delivery.select().count() == 0


def test_the_workers_own_records_do_not_wait_for_the_disk_but_events_do(affnet_app):
    from affnet.core.storage.db import db, is_postgres

    if not is_postgres():
        pytest.skip("only PostgreSQL has synchronous_commit")
    with db.connection_context():
        with outbox._bookkeeping():
            assert db.execute_sql("SHOW synchronous_commit").fetchone()[0] == "off"
        assert db.execute_sql("SHOW synchronous_commit").fetchone()[0] == "on", "only for that transaction"
