"""Our own tests use the same fixtures as a plugin author (affnet.testing)."""

import os
import uuid

import psycopg2
import pytest

from affnet.core.storage import migrations
from affnet.core.storage.db import db, open_database
from affnet.testing import DEFAULT_POSTGRES, postgres_schema_url

pytest_plugins = ["pytester"]


@pytest.fixture
def run_affnet(affnet_cli):
    """Run `affnet ...` on the test app; returns (exit code, output)."""

    def invoke(*args):
        result = affnet_cli(*args)
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def affnet_fresh(tmp_path, monkeypatch):
    """Run `affnet ...` as a new user does, in an empty folder with a new
    SQLite database and instance (nothing made yet); returns click's result."""
    from click.testing import CliRunner

    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AFFNET_CONFIG", raising=False)
    monkeypatch.setenv("AFFNET_DATABASE_URL", f"sqlite:///{tmp_path}/affnet.db")
    monkeypatch.setenv("AFFNET_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def schema_url(affnet_postgres_url):
    """A PostgreSQL schema of this test alone, made and migrated, dropped at the end."""
    base = os.environ.get("AFFNET_TEST_POSTGRES", DEFAULT_POSTGRES)
    schema = f"affnet_servers_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE SCHEMA {schema}")
    url = postgres_schema_url(base, schema)
    previous = db.obj
    database = open_database(url)
    try:
        with db.connection_context():
            migrations.migrate(progress=lambda line: None)
        yield url
    finally:
        database.close_all()
        db.initialize(previous)
        cursor = admin.cursor()
        cursor.execute("SET lock_timeout = '20s'")
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
