"""PostgreSQL stopped for a few seconds in the middle of click and ingest
traffic, on a database server of this test alone, behind a real
``affnet serve`` (gunicorn and its worker): every ingest call answered 2xx
is stored, every one answered 503 is not (and a retry of it is taken), no
answer is a 500, every click answered 302 reaches the database once it is
back, and the server and its worker recover without a restart
(docs/operators.md, "While the database is down")."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg2
import pytest
import requests

import affnet_keitaro.plugin as keitaro
from affnet.core.network import accounts
from affnet.core.storage import migrations
from affnet.core.deliveries import setting_versions
from affnet.core.storage.db import db, open_database
from affnet.core.storage.models import Click, Event
from affnet.core.storage.secrets import keyring
from affnet.instance import init_instance
from affnet.testing import FakeReceiver, click_id_of, free_port

from .processes import Processes, wait_until

pytestmark = pytest.mark.slow

BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's postgresql-15, as in CI
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"
TRAFFIC_SECONDS = 12
DOWN_AT, DOWN_FOR = 3.0, 4.5  # seconds into the traffic; how long PostgreSQL stays down
MAX_CALLS_PER_THREAD = 1500  # bounded in count as well as in time
LOAD_SECONDS = 20  # for the worker to load the spooled clicks once PostgreSQL is back
EARLY_CLICKS = 5  # made and loaded before the outage; half of the sales name them
REFUSED = "the database is unavailable; nothing was recorded, try again"  # the documented 503


class PrivatePostgres:
    """A PostgreSQL server in a folder of its own, on a free loopback port,
    stopped as a crash would stop it (``pg_ctl stop -m immediate``) and
    started again. Run as the ``postgres`` user when the test runs as root
    (PostgreSQL refuses to run as root)."""

    def __init__(self):
        # not pytest's tmp_path: its parents are private to root, and the postgres user must reach the folder
        self.folder = Path(tempfile.mkdtemp(prefix="affnet-outage-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/affnet"

    def create(self):
        missing = [program for program in ("initdb", "pg_ctl") if not (BIN / program).exists()]
        if missing:
            pytest.fail(
                f"PostgreSQL's server programs {missing} are not in {BIN}: install Debian's postgresql-15 "
                "package (CI has it); this test needs a PostgreSQL server of its own to stop and start"
            )
        if self.as_postgres:
            if shutil.which("runuser") is None:
                pytest.fail("running as root, and runuser is missing to run PostgreSQL as the postgres user")
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        admin = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=5
        )
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE affnet")
        admin.close()

    def _run(self, program, *args):
        try:
            subprocess.run([*self.as_postgres, str(BIN / program), *args], check=True, capture_output=True, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as failure:
            pytest.fail(
                f"{program} {' '.join(args)} failed: {failure}\n"
                f"{(failure.stderr or b'').decode(errors='replace')}\n{self.log_tail()}"
            )

    def start(self):
        # a crashed server, not a crashed machine: fsync is not needed for its recovery
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def crash(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def log_tail(self) -> str:
        return "--- postgresql ---\n" + (self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "")

    def remove(self):
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self.as_postgres,
                    str(BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres():
    """A PostgreSQL server made for this test, always stopped and removed."""
    server = PrivatePostgres()
    try:
        server.create()
        yield server
    finally:
        server.remove()


@pytest.fixture
def tracker():
    """The affiliate's tracker, which the worker sends the postbacks to."""
    receiver = FakeReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def network(private_postgres, tracker, tmp_path):
    """The migrated database, one offer and one approved affiliate with a
    postback, and the instance folder; the test process's own connection to
    the database is ``db``."""
    instance = tmp_path / "instance"
    init_instance(instance)
    keyring.load(instance)
    previous = db.obj
    database = open_database(private_postgres.url)
    try:
        with db.connection_context():
            migrations.migrate(progress=lambda line: None)
            owner, _ = accounts.create_user("owner@example.com", "advertiser")
            offer, key = accounts.create_offer(
                owner,
                "Susurra",
                "https://susurra.example/start",
                currency="USD",
                rules=[accounts.RuleSpec.parse("sale=30%")],
            )
            affiliate, _ = accounts.create_user("aff@example.com", "affiliate")
            participation = accounts.apply(affiliate, offer)
            accounts.set_participation_status(participation, "approved")
            setting_versions.save(
                keitaro.POSTBACK,
                affiliate,
                {"url": tracker.base + "/pb?txid={txid}"},
                participation=participation,
                delay_hours=0,
            )
        yield instance, key, participation.ref_code
    finally:
        database.close_all()
        db.initialize(previous)


def test_a_database_outage_loses_nothing_acknowledged_and_needs_no_restart(
    private_postgres, network, tracker, tmp_path
):
    instance, offer_key, ref = network
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    env.update(
        AFFNET_DATABASE_URL=private_postgres.url,
        AFFNET_INSTANCE_PATH=str(instance),
        AFFNET_SERVER_HOST="127.0.0.1",
        AFFNET_SERVER_PORT=str(port),
        AFFNET_SERVER_WORKERS="2",
        AFFNET_CACHE_SECONDS="1",  # routes and keys expire during the outage
        AFFNET_PLUGINS_ENABLED="keitaro",
        AFFNET_DELIVERIES_ALLOW_PRIVATE_TARGETS="true",
        AFFNET_WORKER_POLL_SECONDS="1",
        AFFNET_INGEST_RATE_LIMIT="100000 per minute",
        AFFNET_LOG_LEVEL="WARNING",
    )
    base = f"http://127.0.0.1:{port}"
    processes = Processes(tmp_path)
    processes.start("serve", [sys.executable, "-m", "affnet", "serve"], env)
    try:
        wait_until(lambda: health(base) == 200, time.monotonic() + 30, "affnet serve to answer /healthz")
        early = []
        for _ in range(EARLY_CLICKS):
            answer = visit(requests, base, ref)
            assert answer.status_code == 302, answer.text
            early.append(click_id_of(answer))
        with db.connection_context():
            wait_until(
                lambda: clicks_in_database(early) == set(early),
                time.monotonic() + LOAD_SECONDS,
                "the worker to load the clicks made before the outage",
            )

        traffic = Traffic(base, ref, offer_key, early)
        traffic.run(private_postgres)
        assert not traffic.errors, f"calls that got no answer or broke a thread: {traffic.errors[:5]}"

        click_answers = Counter(status for status, _ in traffic.clicks)
        assert set(click_answers) == {302}, f"every visitor is redirected, also during the outage: {click_answers}"
        sale_answers = Counter(sale["status"] for sale in traffic.sales)
        assert set(sale_answers) <= {200, 201, 503}, f"ingest answers 2xx or the documented 503: {sale_answers}"
        stored = [sale for sale in traffic.sales if sale["status"] in (200, 201)]
        refused = [sale for sale in traffic.sales if sale["status"] == 503]
        assert refused, "the outage reached the ingest path"
        assert stored, "ingest worked before and after the outage"
        assert all(sale["body"].get("error") == REFUSED for sale in refused), refused[:3]
        health_answers = Counter(status for _, status in traffic.health)
        assert set(health_answers) <= {200, 503}, health_answers
        assert health_answers[503], "/healthz said the database was down while it was"
        assert [sale for sale in stored if sale["click_id"] in early], "sales naming clicks from before the outage"
        assert all(sale["body"]["attributed"] for sale in stored), (
            "a sale naming a click answered 302, before, during or after the outage, is attributed to it"
        )

        click_ids = [click_id for _, click_id in traffic.clicks]
        assert len(set(click_ids)) == len(click_ids)
        with db.connection_context():
            loaded = set()

            def every_click_loaded():
                loaded.update(clicks_in_database(set(click_ids) - loaded))
                return len(loaded) == len(click_ids)

            try:
                wait_until(
                    every_click_loaded, time.monotonic() + LOAD_SECONDS, "the spooled clicks to reach the database"
                )
            except AssertionError:
                spool = sorted(
                    f"{path.name} {path.stat().st_size}" for path in (instance / "spool").rglob("*") if path.is_file()
                )
                raise AssertionError(
                    f"{len(click_ids) - len(loaded)} of {len(click_ids)} clicks answered 302 are "
                    f"not in the database {LOAD_SECONDS} s after the outage; spool: {spool}"
                ) from None
            events = events_by_payment([sale["payment"] for sale in traffic.sales])
        assert all(events[sale["payment"]] == [sale["body"]["txid"]] for sale in stored), (
            "every call answered 2xx is stored, once, as the event it answered"
        )
        assert not [sale for sale in refused if events[sale["payment"]]], "no call answered 503 is stored"

        # the same server, no restart: a product owner retries what was refused
        with requests.Session() as session:
            retries = Counter()
            for sale in refused:
                answer = sell(session, base, offer_key, sale["payment"], sale["click_id"])
                retries[answer.status_code] += 1
                assert answer.status_code == 201 and answer.json()["duplicate"] is False, answer.text
                assert answer.json()["attributed"] is True, answer.text
        with db.connection_context():
            events = events_by_payment([sale["payment"] for sale in refused])
        assert all(len(events[sale["payment"]]) == 1 for sale in refused), "each retry is stored once"

        # a new visitor, loaded by the worker, and a sale on that click; its postback is sent
        fresh = visit(requests, base, ref)
        assert fresh.status_code == 302, fresh.text
        with db.connection_context():
            wait_until(
                lambda: clicks_in_database([click_id_of(fresh)]),
                time.monotonic() + LOAD_SECONDS,
                "the worker to load a click made after the outage",
            )
        sale = sell(requests, base, offer_key, "pi_after", click_id_of(fresh))
        assert sale.status_code == 201 and sale.json()["attributed"] is True, sale.text
        txid = sale.json()["txid"]

        def sent():
            with tracker.lock:
                return any(request["query"].get("txid") == txid for request in tracker.requests)

        wait_until(sent, time.monotonic() + LOAD_SECONDS, "the worker to send the postback of a sale after the outage")
        assert processes.running[0][1].poll() is None, "affnet serve is still the one started before the outage"

        print(
            f"\noutage {traffic.outage_seconds:.1f} s (stop took {traffic.stop_seconds:.2f} s, start "
            f"{traffic.start_seconds:.2f} s); clicks {len(traffic.clicks)} {dict(click_answers)}, all in the "
            f"database; sales {len(traffic.sales)} {dict(sale_answers)}: {len(stored)} stored "
            f"(all attributed), {len(refused)} refused and none stored, "
            f"retried {dict(retries)}; /healthz {dict(health_answers)}; postbacks {len(tracker.requests)}"
        )
    except BaseException:
        print(processes.logs())
        print(private_postgres.log_tail())
        raise
    finally:
        processes.stop_all()


def health(base: str) -> int | None:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code
    except requests.RequestException:
        return None


def visit(client, base: str, ref: str) -> requests.Response:
    return client.get(
        f"{base}/r", params={"ref": ref}, headers={"User-Agent": BROWSER}, allow_redirects=False, timeout=15
    )


def sell(client, base: str, offer_key: str, payment: str, click_id: str | None) -> requests.Response:
    return client.post(
        f"{base}/api/ingest/conversion",
        headers={"X-Offer-Key": offer_key},
        timeout=15,
        json={
            "event": "sale",
            "click_id": click_id,
            "external_payment_id": payment,
            "gross_amount": 29,
            "currency": "USD",
        },
    )


def clicks_in_database(click_ids) -> set:
    return {click.click_id for click in Click.select(Click.click_id).where(Click.click_id.in_(list(click_ids)))}


def events_by_payment(payments) -> dict[str, list[str]]:
    """The txids of the events stored for each external payment id."""
    found: dict[str, list[str]] = {payment: [] for payment in payments}
    for payment, txid in (
        Event.select(Event.external_payment_id, Event.txid).where(Event.external_payment_id.in_(payments)).tuples()
    ):
        found[payment].append(txid)
    return found


class Traffic:
    """Clicks from two threads, sales from two more (one naming the clicks
    made before the outage, one the latest click), /healthz from a fifth,
    for TRAFFIC_SECONDS; PostgreSQL crashed at DOWN_AT and started again
    DOWN_FOR seconds later. Every answer is recorded, and every call that
    got none."""

    def __init__(self, base: str, ref: str, offer_key: str, early: list[str]):
        self.base, self.ref, self.offer_key, self.early = base, ref, offer_key, early
        self.clicks: list[tuple[int, str]] = []  # (status, click_id of a 302, else the body)
        self.sales: list[dict] = []  # payment, click_id, status, body
        self.health: list[tuple[float, int | None]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.began = 0.0

    def _running(self, calls: int) -> bool:
        return time.monotonic() - self.began < TRAFFIC_SECONDS and calls < MAX_CALLS_PER_THREAD

    def _guarded(self, work, *args):
        def run():
            try:
                work(*args)
            except Exception as error:  # a call without an answer: recorded, never a thread dying unseen
                with self.lock:
                    self.errors.append(f"{work.__name__}: {error!r}")

        return threading.Thread(target=run)

    def clicking(self):
        with requests.Session() as session:
            calls = 0
            while self._running(calls):
                answer = visit(session, self.base, self.ref)
                calls += 1
                with self.lock:
                    self.clicks.append(
                        (answer.status_code, click_id_of(answer) if answer.status_code == 302 else answer.text[:200])
                    )
                time.sleep(0.02)

    def selling(self, worker: int):
        with requests.Session() as session:
            calls = 0
            while self._running(calls):
                if worker == 0:
                    named = self.early[calls % len(self.early)]
                else:
                    with self.lock:
                        named = next(
                            (click_id for status, click_id in reversed(self.clicks) if status == 302), self.early[-1]
                        )
                payment = f"pi_{worker}_{calls}"
                answer = sell(session, self.base, self.offer_key, payment, named)
                calls += 1
                try:
                    body = answer.json()
                except ValueError:
                    body = {"text": answer.text[:200]}
                with self.lock:
                    self.sales.append(
                        {"payment": payment, "click_id": named, "status": answer.status_code, "body": body}
                    )
                time.sleep(0.05)

    def watching(self):
        calls = 0
        while self._running(calls):
            status = health(self.base)
            calls += 1
            with self.lock:
                self.health.append((time.monotonic() - self.began, status))
            time.sleep(0.2)

    def run(self, server: PrivatePostgres):
        self.began = time.monotonic()
        threads = [self._guarded(self.clicking) for _ in range(2)]
        threads += [self._guarded(self.selling, n) for n in range(2)]
        threads.append(self._guarded(self.watching))
        for thread in threads:
            thread.start()
        try:
            time.sleep(max(DOWN_AT - (time.monotonic() - self.began), 0))
            stopping = time.monotonic()
            server.crash()
            down = time.monotonic()
            time.sleep(max(DOWN_FOR - (time.monotonic() - stopping), 0))
            starting = time.monotonic()
            server.start()
            up = time.monotonic()
            self.stop_seconds, self.start_seconds = down - stopping, up - starting
            self.outage_seconds = up - stopping
        finally:
            for thread in threads:
                thread.join(timeout=TRAFFIC_SECONDS + 30)
        assert not any(thread.is_alive() for thread in threads), "a traffic thread did not end"
