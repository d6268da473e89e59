"""Rate limits shared through Redis (``rate_limit_storage = "redis://..."``).

Two gunicorn servers on one PostgreSQL and the machine's Redis (127.0.0.1:6379) hold one limit between
them; a Redis that goes away (a ``redis-server`` this test starts and kills) leaves each process counting
on its own, with one warning, and never refuses a click or an ingest call.
"""

import logging
import os
import shutil
import socket
import subprocess
import time

import pytest
import requests

from affnet.core.network import accounts, api_tokens
from affnet.core.storage import rate_limits
from affnet.core.storage.db import db
from affnet.core.storage.models import Click, Event
from affnet.core.storage.secrets import keyring
from affnet.instance import init_instance
from affnet.testing import click, free_port, ingest, sale_body

from .pages.conftest import log_in
from .processes import Processes, wait_until, wait_until_healthy

MACHINE_REDIS = os.environ.get("AFFNET_TEST_REDIS", "redis://127.0.0.1:6379/0")
WARNING = "does not answer"


def needs(what: str) -> None:
    """Skip a test whose service this machine lacks; under CI, fail: CI must run it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must run the Redis tests")
    pytest.skip(f"Redis tests need Redis: {what}")


def machine_redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(MACHINE_REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class RedisServer:
    """A ``redis-server`` of this test alone, on a free port, that keeps nothing on disk."""

    def __init__(self, tmp_path):
        binary = shutil.which("redis-server")
        if binary is None:
            needs("redis-server is not installed (Debian's package redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = [binary, "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._answers, time.monotonic() + 10, "redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def keys(self) -> int:
        import redis

        return len(redis.Redis.from_url(self.url).keys("*"))

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def affnet_config(own_redis):
    return {"rate_limit_storage": own_redis.url, "ingest.rate_limit": "6 per minute"}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "affnet.rate_limits" and r.levelno == logging.WARNING]


def test_a_redis_that_goes_away_leaves_each_process_counting_with_one_warning(
    affnet_app, affnet_client, affnet_network, own_redis, caplog
):
    sale = iter(sale_body(payment=f"pi_{n}") for n in range(100))
    assert [ingest(affnet_client, affnet_network, "conversion", next(sale)).status_code for _ in range(2)] == [201] * 2
    assert own_redis.keys() > 0, "the counts did not go to Redis"
    own_redis.stop()
    answers = [ingest(affnet_client, affnet_network, "conversion", next(sale)).status_code for _ in range(7)]
    assert answers == [201] * 6 + [429], "the process does not count on its own while Redis is away"
    assert [click(affnet_client, affnet_network.ref).status_code for _ in range(3)] == [302] * 3
    assert Click.select().count() == 3 and Event.select().count() == 8
    assert len(warnings_of(caplog)) == 1 and WARNING in warnings_of(caplog)[0]
    assert str(own_redis.port) in warnings_of(caplog)[0]


def test_a_redis_that_answers_again_shares_the_limits_again(
    affnet_app, affnet_client, affnet_network, own_redis, caplog, monkeypatch
):
    monkeypatch.setattr(rate_limits, "RETRY_SECONDS", 0)
    own_redis.stop()
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_away")).status_code == 201
    own_redis.start()
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_back")).status_code == 201
    assert own_redis.keys() > 0
    went, came = warnings_of(caplog)
    assert WARNING in went and "answers again" in came


@pytest.mark.parametrize("affnet_config", [{"rate_limit_storage": "redis://127.0.0.1:1/0"}])
def test_a_redis_that_never_answered_refuses_no_log_in(affnet_app, affnet_client, caplog):
    response = log_in(affnet_client, "nobody@example.com", "wrong")
    assert response.status_code == 401
    assert len(warnings_of(caplog)) == 1


@pytest.mark.slow
def test_two_servers_hold_one_limit_between_them_through_redis(schema_url, tmp_path):
    if not machine_redis_answers():
        needs(f"no Redis answers at {MACHINE_REDIS} (AFFNET_TEST_REDIS names another)")
    instance = tmp_path / "instance"
    init_instance(instance)
    with db.connection_context():
        keyring.load(instance)
        owner, _ = accounts.create_user("owner@example.com", "advertiser")
        _, offer_key = accounts.create_offer(owner, "Susurra", "https://susurra.example/", currency="USD")
        affiliate, _ = accounts.create_user("aff@example.com", "affiliate")
        _, token = api_tokens.create_token(affiliate, "Keitaro")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    env.update(
        AFFNET_DATABASE_URL=schema_url,
        AFFNET_INSTANCE_PATH=str(instance),
        AFFNET_PLUGINS_ENABLED="",
        AFFNET_RATE_LIMIT_STORAGE=MACHINE_REDIS,
        AFFNET_STATS_API_RATE_LIMIT="6 per minute",
        AFFNET_INGEST_RATE_LIMIT="6 per minute",
        AFFNET_LOG_LEVEL="WARNING",
    )
    processes = Processes(tmp_path)
    try:
        servers = [processes.start_gunicorn(f"web-{name}", env, threads=2) for name in "ab"]
        wait_until_healthy(servers)
        stats = [
            requests.get(f"{servers[n % 2]}/api/affiliate/stats-api", params={"token": token}, timeout=10)
            for n in range(10)
        ]
        sales = [
            requests.post(
                f"{servers[n % 2]}/api/ingest/conversion",
                json=sale_body(payment=f"pi_{n}"),
                headers={"X-Offer-Key": offer_key},
                timeout=10,
            )
            for n in range(10)
        ]
        logs = processes.logs()
    finally:
        processes.stop_all()
    for answers in (stats, sales):
        codes = [answer.status_code for answer in answers]
        assert codes.count(429) == 4, f"{codes}: the two servers did not share one limit of 6\n{logs}"
        assert codes[:6] == [200 if answers is stats else 201] * 6 and set(codes[6:]) == {429}, codes
        assert all(int(answer.headers["Retry-After"]) >= 1 for answer in answers[6:])
    with db.connection_context():
        assert Event.select().count() == 6
