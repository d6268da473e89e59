"""PostgreSQL stopped for a few seconds in the middle of click and ingest
traffic, on a database server of this test alone, behind a real
``affnet serve``: every ingest call answered 2xx is stored, every one
answered 5xx is not, every click answered 302 reaches the database once it
is back, and the server and its worker recover without a restart."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from affnet.core import accounts, migrations
from affnet.core.db import db, open_database
from affnet.core.models import Click, Event
from affnet.core.secrets import keyring
from affnet.instance import init_instance
from affnet.testing import click_id_of, free_port

from .processes import Processes, wait_until

pytestmark = pytest.mark.slow

BIN = Path("/usr/lib/postgresql/15/bin")
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"
TRAFFIC_SECONDS = 12
DOWN_AT, UP_AT = 3.0, 7.5  # seconds into the traffic


class PrivatePostgres:
    """A PostgreSQL server in a temporary folder, stopped as a crash would
    stop it (``pg_ctl stop -m immediate``) and started again."""

    def __init__(self):
        if not (BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL's server programs are not in {BIN} (Debian's postgresql-15 package)")
        self.folder = Path(tempfile.mkdtemp(prefix="affnet-outage-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        admin = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE affnet")
        admin.close()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/affnet"

    def _run(self, program, *args):
        subprocess.run([*self.as_postgres, str(BIN / program), *args], check=True, capture_output=True)

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c full_page_writes=off")  # a crashed server, not a crashed machine: fsync is not needed
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")

    def crash(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self):
        subprocess.run([*self.as_postgres, str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def server_of_its_own():
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def network(server_of_its_own, tmp_path):
    """The schema, one offer and one affiliate, and the instance folder."""
    instance = tmp_path / "instance"
    init_instance(instance)
    keyring.load(instance)
    previous = db.obj
    database = open_database(server_of_its_own.url)
    try:
        with db.connection_context():
            migrations.migrate(progress=lambda line: None)
            owner, _ = accounts.create_user("owner@example.com", "advertiser")
            offer, key = accounts.create_offer(owner, "Susurra", "https://susurra.example/start", currency="USD",
                                               rules=[accounts.RuleSpec.parse("sale=30%")])
            affiliate, _ = accounts.create_user("aff@example.com", "affiliate")
            participation = accounts.apply(affiliate, offer)
            accounts.set_participation_status(participation, "approved")
        yield instance, key, participation.ref_code
    finally:
        database.close_all()
        db.initialize(previous)


def test_a_database_outage_loses_nothing_acknowledged_and_needs_no_restart(server_of_its_own, network, tmp_path):
    instance, offer_key, ref = network
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    env.update(AFFNET_DATABASE_URL=server_of_its_own.url, AFFNET_INSTANCE_PATH=str(instance),
               AFFNET_SERVER_PORT=str(port), AFFNET_SERVER_WORKERS="2", AFFNET_CACHE_SECONDS="1",
               AFFNET_INGEST_RATE_LIMIT="100000 per minute", AFFNET_LOG_LEVEL="WARNING")
    base = f"http://127.0.0.1:{port}"
    processes = Processes(tmp_path)
    processes.start("serve", [sys.executable, "-m", "affnet", "serve"], env)
    try:
        def healthy():
            try:
                return requests.get(base + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        wait_until(healthy, time.monotonic() + 30, "affnet serve to answer")
        answers = run_traffic(base, ref, offer_key, server_of_its_own)
        clicks, sales = answers["clicks"], answers["sales"]

        assert {status for status, _ in clicks} == {302}, "every visitor was redirected, also during the outage"
        assert {status for status, _ in sales} <= {201, 503}, sorted({status for status, _ in sales})
        refused = [payment for status, payment in sales if status == 503]
        stored = [payment for status, payment in sales if status == 201]
        assert refused, "the outage reached the ingest path"
        assert stored, "ingest worked before and after it"

        click_ids = [click_id for _, click_id in clicks]
        with db.connection_context():
            def every_click_loaded():
                return Click.select().where(Click.click_id.in_(click_ids)).count() == len(click_ids)
            try:
                wait_until(every_click_loaded, time.monotonic() + 30, "the spooled clicks to reach the database")
            except AssertionError:
                found = {c.click_id for c in Click.select(Click.click_id).where(Click.click_id.in_(click_ids))}
                print("MISSING", len(set(click_ids) - found), "of", len(click_ids))
                spool = instance / "spool"
                for path in sorted(spool.rglob("*")):
                    print("SPOOL", path.name, path.stat().st_size if path.is_file() else "dir")
                raise
            payments = {event.external_payment_id for event in Event.select(Event.external_payment_id)}
        assert set(stored) <= payments, "every call answered 201 is stored"
        assert not set(refused) & payments, "no call answered 503 is stored"

        # the same server, no restart: a new click and a sale on it
        fresh = requests.get(f"{base}/r", params={"ref": ref}, headers={"User-Agent": BROWSER},
                             allow_redirects=False, timeout=5)
        assert fresh.status_code == 302
        sale = requests.post(f"{base}/api/ingest/conversion", headers={"X-Offer-Key": offer_key}, timeout=10, json={
            "event": "sale", "click_id": click_id_of(fresh), "external_payment_id": "pi_after",
            "gross_amount": 10, "currency": "USD"})
        assert sale.status_code == 201 and sale.json()["attributed"] is True, sale.text
        print(f"clicks {len(clicks)} (all 302), sales {len(sales)}: {len(stored)} stored, {len(refused)} refused 503")
    except BaseException:
        print(processes.logs())
        raise
    finally:
        processes.stop_all()


def run_traffic(base: str, ref: str, offer_key: str, server: PrivatePostgres) -> dict:
    """Clicks from two threads and sales from two more for TRAFFIC_SECONDS,
    the database crashed at DOWN_AT and back at UP_AT."""
    clicks: list[tuple[int, str]] = []
    sales: list[tuple[int, str]] = []
    lock = threading.Lock()
    began = time.monotonic()

    def clicking():
        with requests.Session() as session:
            while time.monotonic() - began < TRAFFIC_SECONDS:
                answer = session.get(f"{base}/r", params={"ref": ref}, headers={"User-Agent": BROWSER},
                                     allow_redirects=False, timeout=15)
                with lock:
                    clicks.append((answer.status_code, click_id_of(answer) if answer.status_code == 302 else ""))
                time.sleep(0.02)

    def selling(worker: int):
        with requests.Session() as session:
            n = 0
            while time.monotonic() - began < TRAFFIC_SECONDS:
                with lock:
                    named = clicks[-1][1] if clicks else None
                payment = f"pi_{worker}_{n}"
                n += 1
                answer = session.post(f"{base}/api/ingest/conversion", headers={"X-Offer-Key": offer_key}, timeout=15,
                                      json={"event": "sale", "click_id": named or None, "external_payment_id": payment,
                                            "gross_amount": 29, "currency": "USD"})
                with lock:
                    sales.append((answer.status_code, payment))
                time.sleep(0.05)

    threads = [threading.Thread(target=clicking) for _ in range(2)]
    threads += [threading.Thread(target=selling, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(max(DOWN_AT - (time.monotonic() - began), 0))
        server.crash()
        time.sleep(max(UP_AT - (time.monotonic() - began), 0))
        server.start()
    finally:
        for thread in threads:
            thread.join(timeout=TRAFFIC_SECONDS + 30)
    return {"clicks": clicks, "sales": sales}
