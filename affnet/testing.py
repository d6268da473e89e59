"""Fixtures for testing affnet and its plugins (a pytest plugin, loaded
automatically once affnet is installed).

Every fixture is named ``affnet_*``. The app runs on a throwaway database:
each test that uses ``affnet_app`` runs once on SQLite and once on
PostgreSQL. PostgreSQL comes from ``AFFNET_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test session works in a
schema of its own, dropped at the end. Without a reachable server the
PostgreSQL runs are skipped with one line saying why, except under CI
(``CI=true``), where they fail.

A plugin's tests register the plugin explicitly instead of relying on what
happens to be installed::

    @pytest.fixture
    def affnet_plugins():
        return [my_plugin_module]

    def test_something(affnet_app, affnet_client, affnet_network): ...
"""
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from .config import load_settings
from .core import accounts, clock
from .core.db import db, open_database
from .core.models import ALL_MODELS

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
_pg_state: dict = {}


def postgres_schema_url(base: str, schema: str) -> str:
    """``base`` with its search_path set to ``schema`` (a throwaway schema of a test)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def _postgres_unavailable(base: str) -> str | None:
    import psycopg2
    try:
        psycopg2.connect(base.replace("postgresql://", "postgresql://", 1), connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        return f"PostgreSQL at {base} is not reachable ({str(error).strip().splitlines()[0]})"
    return None


_PG_SKIP = "PostgreSQL tests skipped"


def pytest_terminal_summary(terminalreporter):
    """One line per reason tests were skipped (every PostgreSQL test skips
    for the same one), instead of one line per test."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{count} skipped: {reason}", yellow=True)


@pytest.fixture(scope="session")
def affnet_postgres_url():
    """A PostgreSQL URL whose search_path is this session's own schema, with
    the schema made; skips (fails under CI) when no server answers."""
    base = os.environ.get("AFFNET_TEST_POSTGRES", DEFAULT_POSTGRES)
    why = _postgres_unavailable(base)
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the PostgreSQL tests")
        pytest.skip(f"{_PG_SKIP}: {why}")
    import psycopg2
    schema = f"affnet_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    connection = psycopg2.connect(base)
    connection.autocommit = True
    connection.cursor().execute(f"CREATE SCHEMA {schema}")
    url = postgres_schema_url(base, schema)
    from .core import migrations
    database = open_database(url)
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
    database.close_all()
    yield url
    connection.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def affnet_database_url(request, tmp_path):
    """The database of one test: a new SQLite file, or the session's
    PostgreSQL schema emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/affnet.db"
    url = request.getfixturevalue("affnet_postgres_url")
    database = open_database(url)
    tables = ", ".join(model._meta.table_name for model in ALL_MODELS if model.__name__ != "SchemaVersion")
    with db.connection_context():
        db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    database.close_all()
    return url


@pytest.fixture
def affnet_plugins():
    """Plugins to register on the app; override in your tests. Give
    ``(name, module)`` pairs for plugins that read their config section."""
    return []


@pytest.fixture
def affnet_config():
    """Config overrides for the app: keys of ``affnet.config.FIELDS``, and
    ``"plugin.<name>": {...}`` for a plugin's section; override to change."""
    return {}


@pytest.fixture
def affnet_settings(tmp_path, affnet_database_url, affnet_config):
    from .instance import init_instance
    instance = tmp_path / "instance"
    init_instance(instance)
    overrides = {"database_url": affnet_database_url, "instance_path": str(instance),
                 "cache_seconds": 0, "ingest.rate_limit": "100000 per minute", "plugins.enabled": [],
                 "log_level": "WARNING", **affnet_config}
    return load_settings(None, overrides=overrides, environ={})


@pytest.fixture
def affnet_app(affnet_settings, affnet_plugins):
    """The Flask app on the test database, with the schema made and only
    ``affnet_plugins`` (and the config's ``plugins.enabled``) registered."""
    from .app import create_app
    from .core import migrations
    app = create_app(affnet_settings, extra_plugins=affnet_plugins,
                     load_entrypoints=bool(affnet_settings["plugins.enabled"]))
    app.config["TESTING"] = True
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
    with app.app_context():
        yield app
    app.extensions["affnet"].spool.close()
    clock.freeze(None)
    db.obj.close_all()


@pytest.fixture
def affnet_client(affnet_app):
    return affnet_app.test_client()


@pytest.fixture
def affnet_services(affnet_app):
    return affnet_app.extensions["affnet"]


@dataclass
class Network:
    """A small network made for a test: one offer, one approved affiliate."""

    advertiser: object
    offer: object
    offer_key: str
    affiliate: object
    participation: object

    @property
    def ref(self) -> str:
        return self.participation.ref_code

    def add_affiliate(self, email: str, status: str = "approved"):
        user, _ = accounts.create_user(email, "affiliate")
        participation = accounts.apply(user, self.offer)
        accounts.set_participation_status(participation, status)
        return participation


@pytest.fixture
def affnet_network(affnet_app) -> Network:
    """Offer "Susurra" (USD, sale 30%, rebill 20%, trial 2.00, lead 0.50) and
    an approved affiliate."""
    advertiser, _ = accounts.create_user("owner@example.com", "advertiser")
    offer, key = accounts.create_offer(
        advertiser, "Susurra", "https://susurra.example/start?lang=en", currency="USD",
        rules=[accounts.RuleSpec.parse(text) for text in ("sale=30%", "rebill=20%", "trial=2.00", "lead=0.50")])
    affiliate, _ = accounts.create_user("aff@example.com", "affiliate")
    participation = accounts.apply(affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    return Network(advertiser, offer, key, affiliate, participation)


class Clock:
    """Freezes affnet's clock; ``advance`` moves it."""

    def __init__(self, start: datetime):
        self.now = start
        clock.freeze(start)

    def set(self, moment: datetime) -> None:
        self.now = moment
        clock.freeze(moment)

    def advance(self, **delta) -> datetime:
        self.set(self.now + timedelta(**delta))
        return self.now


@pytest.fixture
def affnet_clock():
    frozen = Clock(clock.now())
    yield frozen
    clock.freeze(None)


@pytest.fixture
def affnet_worker(affnet_app):
    """A Worker on the test app: ``affnet_worker.run_once()`` sends what is due."""
    from .worker import Worker
    return Worker(affnet_app.extensions["affnet"], app=affnet_app, worker_id="test-worker")


@pytest.fixture
def affnet_cli(affnet_app, affnet_settings, tmp_path):
    """Run ``affnet <args>`` in-process as an operator would, on the test
    app's database and instance, with the commands of the app's plugins:
    ``affnet_cli("stripe", "show", "susurra")`` returns click's result
    (``exit_code``, ``output``); ``input=`` feeds standard input."""
    import json
    from importlib.metadata import entry_points

    from click.testing import CliRunner

    from .cli import cli
    from .commands import register_all
    register_all(cli)
    pm = affnet_app.extensions["affnet"].pm
    pm.hook.register_commands(cli=cli)
    by_module = {ep.value: ep.name for ep in entry_points(group="affnet")}
    names = sorted({*affnet_settings["plugins.enabled"],
                    *(by_module[module.__name__] for module in pm.get_plugins()
                      if getattr(module, "__name__", None) in by_module)})
    lines = [f"{key} = {json.dumps(str(affnet_settings[key]))}" for key in ("database_url", "instance_path", "base_url")]
    lines += ["[plugins]", f"enabled = {json.dumps(names)}"]
    for name in names:
        lines += [f"[plugin.{name}]", *(f"{key} = {json.dumps(value)}"
                                         for key, value in affnet_settings.plugin_config(name).items())]
    config = tmp_path / "affnet-cli.toml"
    config.write_text("\n".join(lines) + "\n")

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, ["--config", str(config), *args], input=input, catch_exceptions=False)
    return invoke


def sale_body(click_id=None, payment="pi_123", amount=29.0, **extra) -> dict:
    """The SPEC's conversion body, with the given click and payment (the
    amount goes out as a JSON number, as product owners send it)."""
    body = {"click_id": click_id, "user_ref": "cus_123", "event": "sale", "external_payment_id": payment,
            "gross_amount": amount, "currency": "USD", "is_first_payment": True}
    body.update(extra)
    return {key: value for key, value in body.items() if value is not None}


def ingest(client, network: Network, call: str, body, key: str | None = None):
    """POST ``body`` to ``/api/ingest/<call>`` with the network's offer key."""
    return client.post(f"/api/ingest/{call}", json=body,
                       headers={"X-Offer-Key": network.offer_key if key is None else key})


def click(client, ref: str, **params):
    """Follow a tracking link; returns the response (a 302 for a live ref)."""
    params.setdefault("ua", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148")
    user_agent = params.pop("ua")
    query = "&".join(f"{name}={value}" for name, value in {"ref": ref, **params}.items())
    response = client.get(f"/r?{query}", headers={"User-Agent": user_agent})
    load_clicks(client.application)
    return response


def load_clicks(app) -> int:
    """Load the spooled clicks into the database now (the flusher does it
    every ``tracking.spool_flush_ms`` in a running server)."""
    return app.extensions["affnet"].spool.flush()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def click_id_of(response) -> str:
    from urllib.parse import parse_qs, urlsplit
    return parse_qs(urlsplit(response.headers["Location"]).query)["click_id"][0]


class FakeReceiver:
    """A local HTTP server that plays an outside service in tests (an
    affiliate's tracker, an ad platform, a payout provider): it records every
    request and answers as scripted.

    ``answers`` is a list of (status, headers, body) used in order, the last
    one repeating; ``route(request)`` may answer instead (return None to fall
    back to the script). Each recorded request is a dict with ``method``,
    ``path`` (without the query), ``query`` (first value of each parameter),
    ``raw_query``, ``headers``, ``body`` (bytes) and ``client_port``.
    ``delay_seconds`` slows every answer; ``max_in_flight`` says how many
    requests were being answered at once at most. Use it as a context
    manager, or call ``close()``.
    """

    def __init__(self, answers=((200, {}, "ok"),), route=None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit
        import threading
        import time

        self.answers = list(answers)
        self.route = route
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0
        self.in_flight = self.max_in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one send per answer (headers and body together), as real servers do: headers and body
            # in two small writes meet the client's delayed ACK and wait 40 ms each (Nagle's algorithm)
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def _answer(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = {"method": self.command, "path": parts.path, "raw_query": parts.query,
                           "query": {key: values[0] for key, values in
                                     parse_qs(parts.query, keep_blank_values=True).items()},
                           "headers": dict(self.headers), "body": self.rfile.read(length) if length else b"",
                           "client_port": self.client_address[1]}
                with receiver.lock:
                    receiver.requests.append(request)
                    answer = receiver.route(request) if receiver.route else None
                    if answer is None:
                        answer = receiver.answers[0] if len(receiver.answers) == 1 else receiver.answers.pop(0)
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                with receiver.lock:
                    receiver.in_flight -= 1
                status, headers, body = answer
                data = body.encode() if isinstance(body, str) else body
                if status in (204, 304) or status < 200:
                    data = b""  # these answers have no body (RFC 9110)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client: None  # a client that timed out and hung up
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer_next(self, *answers):
        """Answer the next requests with ``answers``, then as before."""
        with self.lock:
            self.answers = list(answers) + [self.answers[-1]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
