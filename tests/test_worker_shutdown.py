"""The worker stops cleanly on SIGTERM every time, within its grace time,
giving back the deliveries it claimed."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import affnet_keitaro.plugin as keitaro
from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import Delivery
from affnet.testing import FakeReceiver, click, click_id_of, ingest, sale_body

GRACE_SECONDS = 10


def test_the_signal_handler_takes_no_lock(affnet_app, affnet_worker, monkeypatch):
    """A handler runs in the main thread between two bytecodes, possibly while
    that thread holds the lock of the event it waits on: a handler that takes
    that lock (``Event.set``) hangs the worker for good."""
    handlers = {}
    monkeypatch.setattr(signal, "signal", lambda signum, handler: handlers.__setitem__(signum, handler))
    runner = threading.Thread(target=affnet_worker.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 5
    while signal.SIGTERM not in handlers and time.monotonic() < deadline:
        time.sleep(0.01)
    with affnet_worker.stopping._cond:  # the lock Event.wait holds around its own bookkeeping
        handled = threading.Thread(target=handlers[signal.SIGTERM], args=(signal.SIGTERM, None), daemon=True)
        handled.start()
        handled.join(timeout=2)
        assert not handled.is_alive(), "the handler waited for a lock"
    runner.join(timeout=5)
    assert not runner.is_alive(), "the worker saw the signal and stopped"


@pytest.fixture
def affnet_plugins():
    return [keitaro]


@pytest.fixture
def affnet_config():
    return {"deliveries.allow_private_targets": True}


@pytest.fixture
def slow_tracker():
    tracker = FakeReceiver()
    tracker.delay_seconds = 0.3
    yield tracker
    tracker.close()


def postbacks_due(client, network, tracker, count: int) -> None:
    setting_versions.save(
        keitaro.POSTBACK,
        network.affiliate,
        {"url": tracker.base + "/pb?txid={txid}"},
        participation=network.participation,
        delay_hours=0,
    )
    clicked = click_id_of(click(client, network.ref))
    for n in range(count):
        answer = ingest(client, network, "conversion", sale_body(clicked, payment=f"pi_{n}"))
        assert answer.status_code == 201


def worker_env(settings, **extra) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    env.update(
        AFFNET_DATABASE_URL=settings["database_url"],
        AFFNET_INSTANCE_PATH=str(settings["instance_path"]),
        AFFNET_PLUGINS_ENABLED="keitaro",
        AFFNET_DELIVERIES_ALLOW_PRIVATE_TARGETS="true",
        AFFNET_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def claimed() -> int:
    return Delivery.select().where(Delivery.claimed_by.is_null(False)).count()


@pytest.mark.slow
@pytest.mark.parametrize("affnet_database_url", ["postgresql"], indirect=True)
def test_the_worker_exits_within_its_grace_time_on_every_sigterm(
    affnet_client, affnet_network, affnet_settings, slow_tracker, tmp_path
):
    postbacks_due(affnet_client, affnet_network, slow_tracker, 400)
    assert Delivery.select().count() == 400
    env = worker_env(affnet_settings, AFFNET_WORKER_BATCH_SIZE="8")
    log = tmp_path / "worker.log"
    for attempt in range(12):
        with open(log, "wb") as output:
            worker = subprocess.Popen(
                [sys.executable, "-m", "affnet", "worker"], env=env, cwd=tmp_path, stdout=output, stderr=output
            )
        requests_before = len(slow_tracker.requests)
        deadline = time.monotonic() + 20
        while len(slow_tracker.requests) == requests_before and time.monotonic() < deadline:
            time.sleep(0.02)  # until it is sending
        time.sleep((attempt % 4) * 0.1)  # then at varied moments of a batch
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            pytest.fail(f"stop {attempt + 1} did not end within {GRACE_SECONDS} s")
        assert code == 0, log.read_text()[-2000:]
        assert claimed() == 0, f"stop {attempt + 1} left deliveries claimed"
    sent = Delivery.select().where(Delivery.status == "sent").count()
    assert 0 < sent < 400, "every stop came in the middle of the work"


@pytest.mark.slow
@pytest.mark.parametrize("affnet_database_url", ["postgresql"], indirect=True)
def test_a_killed_worker_sends_again_only_what_was_in_flight(
    affnet_client, affnet_network, affnet_settings, slow_tracker, tmp_path
):
    """SIGKILL in the middle of a batch of 200: after a restart every delivery
    is sent, each with its own txid, none is stuck, and the ones sent twice
    are at most those in flight when the worker died."""
    postbacks_due(affnet_client, affnet_network, slow_tracker, 200)
    env = worker_env(
        affnet_settings,
        AFFNET_WORKER_BATCH_SIZE="200",
        AFFNET_WORKER_CLAIM_SECONDS="2",
        AFFNET_DELIVERIES_PARALLELISM="16",
    )
    log = tmp_path / "worker.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "affnet", "worker"], env=env, cwd=tmp_path, stdout=output, stderr=output
        )
    deadline = time.monotonic() + 30
    while len(slow_tracker.requests) < 90 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.kill()
    worker.wait()
    with slow_tracker.lock:
        received_at_kill, in_flight_at_kill = len(slow_tracker.requests), slow_tracker.in_flight
    assert 0 < received_at_kill < 200, "killed in the middle of the batch"
    recorded_at_kill = {
        delivery.payload["macros"]["txid"] for delivery in Delivery.select().where(Delivery.status == "sent")
    }
    assert recorded_at_kill, "results were recorded while the batch was still being sent"

    with open(log, "ab") as output:
        restarted = subprocess.Popen(
            [sys.executable, "-m", "affnet", "worker"], env=env, cwd=tmp_path, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 40
        while Delivery.select().where(Delivery.status == "sent").count() < 200 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=GRACE_SECONDS)
    assert Delivery.select().where(Delivery.status == "sent").count() == 200, log.read_text()[-2000:]
    txids = [request["query"]["txid"] for request in slow_tracker.requests]
    payloads = {delivery.payload["macros"]["txid"] for delivery in Delivery.select()}
    assert set(txids) == payloads, "every delivery reached the tracker with its own txid"
    sent_again = len(txids) - len(set(txids))
    twice = {txid for txid in txids if txids.count(txid) > 1}
    assert not twice & recorded_at_kill, "a delivery whose result was recorded is never sent again"
    # in flight: requests the tracker had not answered, plus at most one round of answers (parallelism 16)
    # that completed while the result thread was committing the previous ones; the whole batch before
    assert sent_again <= in_flight_at_kill + 16, (sent_again, in_flight_at_kill, received_at_kill)
