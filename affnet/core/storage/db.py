"""The database: opened from a URL, shared through one proxy.

``db`` is bound to every model; ``open_database(url)`` initialises it (SQLite
with WAL and a busy timeout, or PostgreSQL), both through peewee's connection
pool, which the threaded web server needs. SQLite transactions begin
IMMEDIATE: a deferred one that reads and then writes fails at once with
"database is locked" when another writer got in between, instead of waiting.

peewee's PostgreSQL pool checks a connection with a ``SELECT 1`` round trip
every time it hands one out, which is once per request; ``_PostgresPool``
checks only a connection that has been idle for ``PING_AFTER_SECONDS``. A
connection the server dropped within that window fails its first query,
and that request answers 503 (nothing recorded) instead of being served.

``execute`` runs the statements of the click and ingest paths. On
PostgreSQL each is prepared once per connection (``PREPARE``) and then only
executed: planning cost the server more than running them. A pooler that
hands each transaction another server connection (PgBouncer in transaction
mode) cannot keep them: ``?prepared_statements=false`` in the URL turns them off.
"""

import sqlite3
import time
from urllib.parse import parse_qsl, urlsplit

import psycopg2
import psycopg2.extensions
from peewee import DatabaseError, DatabaseProxy, InterfaceError
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

db = DatabaseProxy()

# What a database that did not answer a statement raises: a server that is
# down or restarting (OperationalError, a DatabaseError), a pooled connection
# it dropped ("connection already closed": peewee's InterfaceError, met about
# once in 1,700 calls while PostgreSQL restarts, is not a DatabaseError), and
# psycopg2's own errors where peewee does not wrap the driver's calls.
DATABASE_ERRORS = (DatabaseError, InterfaceError, psycopg2.InterfaceError, psycopg2.OperationalError)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32000,
}


PING_AFTER_SECONDS = 10
SQLITE_AT_LEAST = (3, 35)


class _Connection(psycopg2.extensions.connection):
    """A psycopg2 connection that remembers the statements it has prepared."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepared: dict[str, str] = {}


class _PostgresPool(PooledPostgresqlDatabase):
    prepare_statements = True

    def __init__(self, *args, **kwargs):
        self._returned_at: dict = {}
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        if close_conn:
            self._returned_at.pop(self.conn_key(conn), None)
        else:
            self._returned_at[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _is_closed(self, conn):
        returned = self._returned_at.pop(self.conn_key(conn), None)
        if conn.closed:
            return True
        if returned is not None and time.monotonic() - returned < PING_AFTER_SECONDS:
            return False
        return super()._is_closed(conn)


def is_postgres() -> bool:
    return isinstance(db.obj, PooledPostgresqlDatabase)


def make_database(url: str):
    """A pooled peewee database for ``sqlite:///path`` or ``postgresql://...``.

    Query parameters of a PostgreSQL URL go to psycopg2 as they are (for
    example ``?sslmode=require`` or ``?options=-csearch_path%3Dmyschema``).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if sqlite3.sqlite_version_info < SQLITE_AT_LEAST:
            raise ValueError(
                f"affnet needs SQLite {'.'.join(map(str, SQLITE_AT_LEAST))} or newer (UPDATE ... "
                f"RETURNING, JSON functions); this Python has {sqlite3.sqlite_version}: use a newer "
                "Python build, or PostgreSQL"
            )
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        path = path.split("?", 1)[0] or ":memory:"
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            check_same_thread=False,
            lock_type="IMMEDIATE",
            max_connections=64,
            stale_timeout=300,
            timeout=10,
        )
    if parts.scheme in ("postgres", "postgresql"):
        options = dict(parse_qsl(parts.query))
        options.setdefault("connect_timeout", "5")  # an unreachable server fails a connect in 5 s, not minutes
        prepare = options.pop("prepared_statements", "true").lower() not in ("false", "0", "no", "off")
        database = _PostgresPool(
            parts.path.lstrip("/"),
            user=parts.username,
            password=parts.password,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            max_connections=int(options.pop("max_connections", 32)),
            stale_timeout=300,
            timeout=10,
            connection_factory=_Connection,
            **options,
        )
        database.prepare_statements = prepare
        return database
    raise ValueError(f"unsupported database URL scheme: {parts.scheme}")


def open_database(url: str):
    """Bind the models to the database at ``url``; returns it."""
    database = make_database(url)
    db.initialize(database)
    return database
