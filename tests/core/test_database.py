"""The database layer under the hot paths: pooled connections handed out
without a ping, statements planned once per connection (PostgreSQL)."""

import pytest

from affnet.core.storage import db as database_module
from affnet.core.storage import sql as sql_module
from affnet.core.storage.db import db, is_postgres
from affnet.testing import click, click_id_of, ingest, sale_body


@pytest.fixture
def postgres_only(affnet_app):
    if not is_postgres():
        pytest.skip("only PostgreSQL pings pooled connections and prepares statements")


@pytest.fixture
def pings(postgres_only, monkeypatch):
    made = []
    real = db.obj._adapter.is_connection_closed

    def counting(connection):
        made.append(connection)
        return real(connection)

    monkeypatch.setattr(db.obj._adapter, "is_connection_closed", counting)
    return made


def test_a_connection_given_back_moments_ago_is_reused_without_a_ping(pings):
    for _ in range(3):
        with db.connection_context():
            db.execute_sql("SELECT 1")
    assert pings == []


def test_a_connection_idle_for_longer_is_pinged_before_reuse(pings, monkeypatch):
    with db.connection_context():
        db.execute_sql("SELECT 1")
    monkeypatch.setattr(database_module, "PING_AFTER_SECONDS", 0)
    with db.connection_context():
        db.execute_sql("SELECT 1")
    assert len(pings) == 1


def _prepared_statements() -> list[str]:
    return [row[0] for row in db.execute_sql("SELECT statement FROM pg_prepared_statements").fetchall()]


def test_the_ingest_path_plans_each_statement_once_per_connection(postgres_only, affnet_client, affnet_network):
    db.obj.close_all()
    for payment in ("pi_1", "pi_2", "pi_3"):
        click_id = click_id_of(click(affnet_client, affnet_network.ref))
        assert (
            ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment=payment)).status_code == 201
        )
    with db.connection_context():
        prepared = _prepared_statements()
    assert any('INSERT INTO "event"' in statement for statement in prepared)
    assert any('FROM "click"' in statement for statement in prepared)
    assert len(prepared) == len(set(prepared)), "each statement is prepared once"


def test_a_prepared_statement_runs_with_each_call_s_values(postgres_only):
    with db.connection_context():
        sql = "SELECT %s::int + %s::int"
        assert sql_module.execute(sql, [1, 2]).fetchone()[0] == 3
        assert sql_module.execute(sql, [40, 2]).fetchone()[0] == 42
        assert [statement.split(" AS ", 1)[1] for statement in _prepared_statements() if "$1::int" in statement] == [
            "SELECT $1::int + $2::int"
        ]


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(
    postgres_only, affnet_postgres_url, monkeypatch
):
    separator = "&" if "?" in affnet_postgres_url else "?"
    database = database_module.make_database(affnet_postgres_url + separator + "prepared_statements=false")
    monkeypatch.setattr(db, "obj", database)
    with database.connection_context():
        assert sql_module.execute("SELECT %s::int * 6", [7]).fetchone()[0] == 42
        assert _prepared_statements() == []
    database.close_all()


def test_an_sqlite_too_old_for_returning_is_refused_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(database_module.sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(database_module.sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(ValueError, match=r"needs SQLite 3\.35 or newer .* this Python has 3\.34\.1"):
        database_module.make_database(f"sqlite:///{tmp_path}/affnet.db")
