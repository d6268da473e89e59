"""The pytest fixtures of ``affnet.testing`` (see its docstring)."""

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from ..config import load_settings
from ..core.network import accounts
from ..core import clock
from ..core.storage.db import db, open_database
from ..core.storage.models import ALL_MODELS

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_schema_url(base: str, schema: str) -> str:
    """``base`` with its search_path set to ``schema`` (a throwaway schema of a test)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def _postgres_unavailable(base: str) -> str | None:
    import psycopg2

    try:
        psycopg2.connect(base, connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        return f"PostgreSQL at {base} is not reachable ({str(error).strip().splitlines()[0]})"
    return None


_PG_SKIP = "PostgreSQL tests skipped"
DATABASES = tuple(
    name.strip() for name in os.environ.get("AFFNET_TEST_DATABASES", "sqlite,postgresql").split(",") if name.strip()
)


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
    from ..core.storage import migrations

    database = open_database(url)
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
    database.close_all()
    yield url
    connection.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


@pytest.fixture(params=DATABASES)
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
    from ..instance import init_instance

    instance = tmp_path / "instance"
    init_instance(instance)
    overrides = {
        "database_url": affnet_database_url,
        "instance_path": str(instance),
        "cache_seconds": 0,
        "ingest.rate_limit": "100000 per minute",
        "stats_api.rate_limit": "100000 per minute",
        "tracking.click_rate_limit": "100000 per minute",
        "plugins.enabled": [],
        "log_level": "WARNING",
        **affnet_config,
    }
    return load_settings(None, overrides=overrides, environ={})


@pytest.fixture
def affnet_app(affnet_settings, affnet_plugins):
    """The Flask app on the test database, with the schema made and only
    ``affnet_plugins`` (and the config's ``plugins.enabled``) registered.
    No app context is held open: each request has its own, as in a server."""
    from ..app import create_app
    from ..core.storage import migrations

    app = create_app(
        affnet_settings, extra_plugins=affnet_plugins, load_entrypoints=bool(affnet_settings["plugins.enabled"])
    )
    app.config["TESTING"] = True
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
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
        advertiser,
        "Susurra",
        "https://susurra.example/start?lang=en",
        currency="USD",
        rules=[accounts.RuleSpec.parse(text) for text in ("sale=30%", "rebill=20%", "trial=2.00", "lead=0.50")],
    )
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
    from ..worker import Worker

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

    from ..cli import cli
    from ..commands import register_all

    register_all(cli)
    pm = affnet_app.extensions["affnet"].pm
    pm.hook.register_commands(cli=cli)
    by_module = {ep.value: ep.name for ep in entry_points(group="affnet")}
    names = sorted(
        {
            *affnet_settings["plugins.enabled"],
            *(
                by_module[module.__name__]
                for module in pm.get_plugins()
                if getattr(module, "__name__", None) in by_module
            ),
        }
    )
    lines = [
        f"{key} = {json.dumps(str(affnet_settings[key]))}" for key in ("database_url", "instance_path", "base_url")
    ]
    lines += ["[plugins]", f"enabled = {json.dumps(names)}"]
    for name in names:
        lines += [
            f"[plugin.{name}]",
            *(f"{key} = {json.dumps(value)}" for key, value in affnet_settings.plugin_config(name).items()),
        ]
    config = tmp_path / "affnet-cli.toml"
    config.write_text("\n".join(lines) + "\n")

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, ["--config", str(config), *args], input=input, catch_exceptions=False)

    return invoke
