"""Several app servers and several workers on one PostgreSQL work together.

Two gunicorn instances and two ``affnet worker`` processes run on a
throwaway PostgreSQL schema, each with its own instance folder (the same
keys, as on two machines). Clicks and events go through both servers over
HTTP, every conversion and refund to both servers at once; every event is
counted once and every delivery reaches the receiver exactly once.

Needs the ``affnet-echo-test`` plugin installed (tests/plugins/affnet_echo_receiver).
"""

import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import entry_points

import pytest
import requests
from peewee import fn

from affnet.core.network import accounts
from affnet.core.deliveries import setting_versions
from affnet.core.storage.db import db
from affnet.core.storage.models import Click, Delivery, DeliveryAttempt, Event, LedgerEntry
from affnet.core.storage.secrets import keyring
from affnet.instance import init_instance
from affnet.testing import FakeReceiver, click_id_of

from .processes import Processes, wait_until, wait_until_healthy

pytestmark = pytest.mark.slow

CLICKS = 200
SALES = 80
REFUNDS = 20
DEADLINE_SECONDS = 60
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"


def txids_received(receiver: FakeReceiver) -> Counter:
    """How often the affiliates' endpoint was sent each txid."""
    with receiver.lock:
        return Counter(json.loads(request["body"])["txid"] for request in receiver.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_network(instance, receiver_url):
    """One offer, two approved affiliates, each with the echo delivery set."""
    from affnet_echo_test.plugin import KIND

    keyring.load(instance)
    owner, _ = accounts.create_user("owner@example.com", "advertiser")
    offer, key = accounts.create_offer(
        owner, "Susurra", "https://susurra.example/start", currency="USD", rules=[accounts.RuleSpec.parse("sale=30%")]
    )
    refs = []
    for n in range(2):
        affiliate, _ = accounts.create_user(f"aff{n}@example.com", "affiliate")
        participation = accounts.apply(affiliate, offer)
        accounts.set_participation_status(participation, "approved")
        setting_versions.save(KIND, affiliate, {"url": receiver_url})
        refs.append(participation.ref_code)
    return key, refs


def test_two_servers_and_two_workers_count_every_event_once_and_send_every_delivery_once(schema_url, tmp_path):
    if "echo_test" not in {entry.name for entry in entry_points(group="affnet")}:
        pytest.fail(
            "the test plugin is not installed: "
            ".venv/bin/pip install --no-build-isolation -e tests/plugins/affnet_echo_receiver"
        )
    receiver = FakeReceiver()
    instances = [tmp_path / "instance-a", tmp_path / "instance-b"]
    init_instance(instances[0])
    shutil.copytree(instances[0], instances[1])  # a second machine: the same keys
    with db.connection_context():
        offer_key, refs = make_network(instances[0], receiver.base + "/hit")
    base_env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    base_env.update(
        AFFNET_DATABASE_URL=schema_url,
        AFFNET_PLUGINS_ENABLED="echo_test",
        AFFNET_DELIVERIES_ALLOW_PRIVATE_TARGETS="true",
        AFFNET_INGEST_RATE_LIMIT="100000 per minute",
        AFFNET_WORKER_POLL_SECONDS="1",
        AFFNET_WORKER_BATCH_SIZE="10",
        AFFNET_LOG_LEVEL="WARNING",
    )
    processes = Processes(tmp_path)
    servers = []
    try:
        for name, instance in zip("ab", instances):
            env = dict(base_env, AFFNET_INSTANCE_PATH=str(instance))
            servers.append(processes.start_gunicorn(f"web-{name}", env))
            processes.start(f"worker-{name}", [sys.executable, "-m", "affnet", "worker"], env)
        deadline = time.monotonic() + DEADLINE_SECONDS + 30

        wait_until_healthy(servers)

        def visit(n):
            response = requests.get(
                servers[n % 2] + "/r",
                params={"ref": refs[n // 2 % 2], "s1": f"n{n}"},
                headers={"User-Agent": BROWSER},
                allow_redirects=False,
                timeout=10,
            )
            assert response.status_code == 302
            return click_id_of(response)

        with ThreadPoolExecutor(8) as pool:
            click_ids = list(pool.map(visit, range(CLICKS)))
        assert len(set(click_ids)) == CLICKS

        def all_clicks_loaded():
            with db.connection_context():
                return Click.select().count() == CLICKS

        wait_until(all_clicks_loaded, deadline, "the spooled clicks to reach the database")

        def to_both_at_once(call, bodies):
            """POST each body to both servers at the same moment; returns the answer pairs."""
            barriers = [threading.Barrier(2, timeout=20) for _ in bodies]

            def post(job):
                index, server = job
                barriers[index].wait()
                response = requests.post(
                    f"{server}/api/ingest/{call}", json=bodies[index], headers={"X-Offer-Key": offer_key}, timeout=20
                )
                return index, response.status_code, response.json()

            jobs = [(index, server) for index in range(len(bodies)) for server in servers]
            pairs = [[] for _ in bodies]
            with ThreadPoolExecutor(8) as pool:
                for index, status, body in pool.map(post, jobs):
                    pairs[index].append((status, body))
            return pairs

        sales = [
            {
                "click_id": click_ids[n],
                "user_ref": f"cus_{n}",
                "event": "sale",
                "external_payment_id": f"pi_{n}",
                "gross_amount": 29.0,
                "currency": "USD",
            }
            for n in range(SALES)
        ]
        refunds = [{"external_payment_id": f"pi_{n}"} for n in range(REFUNDS)]
        answers = to_both_at_once("conversion", sales) + to_both_at_once("refund", refunds)
        for pair in answers:
            assert sorted(status for status, _ in pair) == [200, 201], pair
            assert len({body["txid"] for _, body in pair}) == 1, "both servers answer the same event"
            assert sorted(body["duplicate"] for _, body in pair) == [False, True]
        assert all(body["attributed"] for pair in answers for _, body in pair)
        txids = {pair[0][1]["txid"] for pair in answers}
        assert len(txids) == SALES + REFUNDS

        def all_sent():
            with db.connection_context():
                pending = Delivery.select().where(Delivery.status != "sent").count()
            return pending == 0 and sum(txids_received(receiver).values()) >= SALES + REFUNDS

        wait_until(all_sent, deadline, "every delivery to be sent")
        time.sleep(2.5)  # two more worker rounds: nothing may arrive twice late

        with db.connection_context():
            assert Event.select().count() == SALES + REFUNDS
            assert {event.txid for event in Event.select(Event.txid)} == txids
            entries = Counter(kind for (kind,) in LedgerEntry.select(LedgerEntry.kind).tuples())
            assert entries == {"commission": SALES, "reversal": REFUNDS}
            assert (
                LedgerEntry.select(LedgerEntry.event)
                .group_by(LedgerEntry.event)
                .having(fn.COUNT(LedgerEntry.id) > 1)
                .count()
                == 0
            ), "no event booked twice"
            assert Delivery.select().count() == SALES + REFUNDS
            assert DeliveryAttempt.select().count() == SALES + REFUNDS, "one attempt per delivery"
            assert Click.select().count() == CLICKS
        received = txids_received(receiver)
        assert set(received) == txids and set(received.values()) == {1}, "every txid exactly once"
    except BaseException:
        processes.stop_all()
        print(processes.logs())
        raise
    finally:
        processes.stop_all()
        receiver.close()
