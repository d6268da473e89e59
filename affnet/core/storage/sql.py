"""Hand-written SQL, kept where it was measured to matter, and the only core
module that reaches below peewee's query builder.

peewee builds the SQL of every query anew, which on the ingest path cost more
than the database did. Here:

- ``execute``: a statement PostgreSQL prepares once per connection;
- ``create`` / ``insert`` / ``insert_many`` / ``update_by_ids`` / ``fetch`` /
  ``fetch_instance``: ``Model.create`` and friends with SQL built once per
  model and set of columns (the rows written and read on every event);
- ``insert_event``: an event and its rows in one statement (PostgreSQL);
- ``insert_clicks``: spooled clicks by ``COPY`` (PostgreSQL);
- ``insert_values`` and ``reset_sequences``: a backup's rows restored;
- ``commit_without_waiting_for_disk``: the worker's own bookkeeping.
"""

import csv
import io
import itertools
import json
import re
import threading

from peewee import IntegrityError

from .db import db, is_postgres
from .models import Click, Event

_statements: dict = {}
_lock = threading.Lock()


def execute(sql: str, params: list):
    """Run ``sql`` (``%s`` placeholders) and return the cursor. On PostgreSQL
    the server parses and plans it once per connection: the first call
    prepares it, every call executes the prepared statement."""
    if not is_postgres() or not db.obj.prepare_statements or "%%" in sql:  # a literal % stays unprepared
        return db.execute_sql(sql, params)
    connection = db.connection()
    name = connection.prepared.get(sql)
    if name is None:
        number = itertools.count(1)
        name = f"affnet_{len(connection.prepared) + 1}"
        db.execute_sql(f"PREPARE {name} AS " + re.sub("%s", lambda _: f"${next(number)}", sql))
        connection.prepared[sql] = name
    return db.execute_sql(
        f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params
    )


def _quote(name: str) -> str:
    """A table or column name quoted for the open database."""
    return name.join(db.obj.quote)


def _statement(model, names: tuple, postgres: bool, returning: bool = True):
    key = (model, names, postgres, returning)
    found = _statements.get(key)
    if found is None:
        database = db.obj
        fields = [model._meta.fields[name] for name in names]
        sql = (
            f"INSERT INTO {_quote(model._meta.table_name)} ({', '.join(_quote(f.column_name) for f in fields)}) "
            f"VALUES ({', '.join([database.param] * len(fields))})"
        )
        if postgres and returning:
            sql += f" RETURNING {_quote(model._meta.primary_key.column_name)}"
        with _lock:
            found = _statements[key] = (sql, fields)
    return found


def create(model, **values):
    """Insert one row and return the model instance, as ``model.create`` does."""
    return insert(model(**values))


def insert(instance):
    """Insert an unsaved instance (its defaults applied); returns it with its id."""
    model = type(instance)
    data = {name: value for name, value in instance.__data__.items() if name != model._meta.primary_key.name}
    postgres = is_postgres()
    sql, fields = _statement(model, tuple(data), postgres)
    cursor = execute(sql, [field.db_value(data[field.name]) for field in fields])
    instance._pk = cursor.fetchone()[0] if postgres else cursor.lastrowid
    instance._dirty.clear()
    return instance


def insert_many(model, rows: list[dict]) -> None:
    """Insert rows given as dicts of the same field names (every field the
    table needs, defaults are not applied), with SQL built once: one
    multi-row statement on PostgreSQL, one prepared statement run per row on
    SQLite. peewee's ``insert_many`` builds its SQL anew for every row."""
    if not rows:
        return
    postgres = is_postgres()
    sql, fields = _statement(model, tuple(rows[0]), postgres, returning=False)
    values = [[field.db_value(row[field.name]) for field in fields] for row in rows]
    if postgres:
        from psycopg2.extras import execute_values

        execute_values(db.cursor(), sql[: sql.index(" VALUES ")] + " VALUES %s", values, page_size=len(values))
    else:
        db.cursor().executemany(sql, values)


def update_by_ids(model, ids: list[int], **values) -> None:
    """``UPDATE`` the rows of ``model`` with these ids, setting ``values``
    (field names), with SQL built once and the ids passed as ONE parameter
    (an array on PostgreSQL, a JSON list on SQLite): peewee builds an
    ``IN (...)`` of a few hundred ids slower than the database runs it."""
    if not ids:
        return
    postgres = is_postgres()
    names = tuple(values)
    key = ("update_by_ids", model, names, postgres)
    found = _statements.get(key)
    if found is None:
        database = db.obj
        fields = [model._meta.fields[name] for name in names]
        assignments = ", ".join(f"{_quote(field.column_name)} = {database.param}" for field in fields)
        primary = _quote(model._meta.primary_key.column_name)
        chosen = (
            f"{primary} = ANY({database.param})"
            if postgres
            else f"{primary} IN (SELECT value FROM json_each({database.param}))"
        )
        found = (f"UPDATE {_quote(model._meta.table_name)} SET {assignments} WHERE {chosen}", fields)
        with _lock:
            _statements[key] = found
    sql, fields = found
    params = [field.db_value(values[field.name]) for field in fields]
    execute(sql, params + [list(ids) if postgres else json.dumps(list(ids))])


def fetch(key: str, build, params: list) -> list[tuple]:
    """The rows (tuples) of a query whose SQL peewee builds only the first
    time: ``build()`` makes the query with these ``params`` as its values,
    in the order peewee puts them (checked when the SQL is built)."""
    postgres = is_postgres()
    sql = _statements.get((key, postgres))
    if sql is None:
        sql, built_params = build().sql()
        if list(built_params) != list(params):
            raise ValueError(f"query {key!r}: params {params!r} are not in peewee's order {built_params!r}")
        with _lock:
            _statements[(key, postgres)] = sql
    return execute(sql, params).fetchall()


def _names(instance) -> tuple:
    """The fields of an unsaved instance that have a value (defaults applied), but its id and event."""
    skip = (instance._meta.primary_key.name, "event")
    return tuple(name for name in instance.__data__ if name not in skip)


def _values(instance, names: tuple) -> list:
    fields = instance._meta.fields
    return [fields[name].db_value(instance.__data__[name]) for name in names]


def _sql_type(field) -> str:
    context = db.obj.get_sql_context()
    return context.sql(field.ddl_datatype(context)).query()[0]


def _waiting() -> str:
    """SQL that is true when a refund or chargeback of the payment (offer id,
    payment id: two parameters) was recorded before it and waits."""
    database = db.obj
    return (
        f"EXISTS (SELECT 1 FROM {_quote(Event._meta.table_name)} w "
        f"WHERE w.{_quote('offer_id')} = {database.param} "
        f"AND w.{_quote('external_payment_id')} = {database.param} AND w.{_quote('pending')})"
    )


def _bundle_statement(event_names: tuple, shapes: tuple, check_waiting: bool) -> str:
    """The one PostgreSQL statement that inserts an event and its rows: the
    event (nothing at all when its (offer, dedup_key) exists), then each
    child with the new event's id, then answers the id and whether a
    refund or chargeback of the same payment waits for it."""
    key = ("bundle", event_names, shapes, check_waiting)
    sql = _statements.get(key)
    if sql is not None:
        return sql
    database = db.obj
    meta = Event._meta
    columns = lambda model, names: ", ".join(_quote(model._meta.fields[n].column_name) for n in names)  # noqa: E731
    marks = lambda count: ", ".join([database.param] * count)  # noqa: E731
    parts = [
        f"e AS (INSERT INTO {_quote(meta.table_name)} ({columns(Event, event_names)}) "
        f"VALUES ({marks(len(event_names))}) ON CONFLICT ({_quote('offer_id')}, {_quote('dedup_key')}) "
        f"DO NOTHING RETURNING {_quote(meta.primary_key.column_name)} AS id)"
    ]
    for number, (model, names) in enumerate(shapes):
        # a value in a SELECT list has no type of its own: each is cast to its column's
        typed = ", ".join(f"CAST({database.param} AS {_sql_type(model._meta.fields[name])})" for name in names)
        parts.append(
            f"c{number} AS (INSERT INTO {_quote(model._meta.table_name)} "
            f"({columns(model, names)}, {_quote('event_id')}) SELECT {typed}, e.id FROM e)"
        )
    sql = f"WITH {', '.join(parts)} SELECT e.id, {_waiting() if check_waiting else 'FALSE'} FROM e"
    with _lock:
        _statements[key] = sql
    return sql


def insert_event(event, children: list) -> tuple[bool, bool]:
    """Insert ``event`` and its ``children`` (unsaved rows that point to it
    through ``event``: its ledger entry, its deliveries) all or nothing, and
    return (inserted, a refund or chargeback of its payment is waiting).

    Nothing is written when the offer already has an event with the same
    ``dedup_key``: the unique index decides, so two servers racing with the
    same event write it once. On PostgreSQL this is ONE statement (one round
    trip, no BEGIN/COMMIT); on SQLite, one transaction.
    """
    payment_id = event.external_payment_id
    if is_postgres():
        event_names = _names(event)
        params = _values(event, event_names)
        shapes = []
        for child in children:
            names = _names(child)
            shapes.append((type(child), names))
            params += _values(child, names)
        if payment_id:
            params += [event.offer_id, payment_id]
        found = execute(_bundle_statement(event_names, tuple(shapes), bool(payment_id)), params).fetchone()
        if found is None:
            return False, False
        event.id = found[0]
        event._dirty.clear()
        for child in children:
            child.event = event.id
        return True, bool(found[1])
    try:
        with db.atomic():
            insert(event)
            insert_children(event, children)
            waiting = bool(payment_id) and bool(
                execute(f"SELECT {_waiting()}", [event.offer_id, payment_id]).fetchone()[0]
            )
    except IntegrityError:
        if not Event.select().where((Event.offer == event.offer_id) & (Event.dedup_key == event.dedup_key)).exists():
            raise  # not a repeat of an event: some other row was refused
        return False, False
    return True, waiting


def insert_children(event, children: list) -> None:
    """Insert unsaved rows that point to the (saved) ``event``: its ledger
    entry, its deliveries. Call it in the event's transaction."""
    for child in children:
        child.event = event.id
        insert(child)


def fetch_instance(model, key: str, build, params: list, extra: int = 0):
    """The first row of a query built once (see ``fetch``) as an instance of
    ``model``, and its ``extra`` trailing columns; None and as many Nones
    when there is no row. ``build(fields)`` makes the query selecting ``fields`` (every
    field of the model) first, then the extra columns."""
    fields = model._meta.sorted_fields
    found = fetch(key, lambda: build(fields), params)
    if not found:
        return None, (None,) * extra
    values = found[0]
    instance = model(__no_default__=1)
    instance.__data__.update((field.name, field.python_value(value)) for field, value in zip(fields, values))
    return instance, tuple(values[len(fields) : len(fields) + extra])


def insert_clicks(rows: list[dict]) -> None:
    """Insert click rows, skipping click ids already present, by each
    database's fastest path (peewee's ``insert_many`` builds SQL per row).

    On PostgreSQL the rows are copied (``COPY``, CSV) into a temporary table
    and moved from there with one ``INSERT ... ON CONFLICT DO NOTHING``: the
    server parses no SQL per row. Call it inside a transaction."""
    fields = [field for field in Click._meta.sorted_fields if field.name != "id"]
    columns = ", ".join(field.column_name for field in fields)
    defaults = {field.name: field.default for field in fields}  # for what a row leaves out (``is_over_limit``)
    values = [tuple(field.db_value(row.get(field.name, defaults[field.name])) for field in fields) for row in rows]
    cursor = db.cursor()
    if is_postgres():
        buffer = io.StringIO()
        csv.writer(buffer).writerows(values)  # None becomes an empty field: NULL (no click has an empty text)
        buffer.seek(0)
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS click_load ON COMMIT DELETE ROWS "
            f"AS SELECT {columns} FROM click WITH NO DATA"
        )
        cursor.copy_expert(f"COPY click_load ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.execute(
            f"INSERT INTO click ({columns}) SELECT {columns} FROM click_load ON CONFLICT (click_id) DO NOTHING"
        )
    else:
        marks = ", ".join("?" * len(fields))
        cursor.executemany(f"INSERT OR IGNORE INTO click ({columns}) VALUES ({marks})", values)


def insert_values(model, fields: list, rows: list[list]) -> None:
    """Insert rows of database values (one list per row, in ``fields``
    order) as they are: a backup's rows. Call it inside a transaction."""
    columns = ", ".join(_quote(field.column_name) for field in fields)
    table = _quote(model._meta.table_name)
    cursor = db.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values

        execute_values(cursor, f"INSERT INTO {table} ({columns}) VALUES %s", rows, page_size=len(rows))
    else:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(fields))})", rows)


def reset_sequences(models) -> None:
    """Point each PostgreSQL id sequence past the rows present, so the next
    insert does not collide with a restored id."""
    for model in models:
        key = model._meta.primary_key
        if not getattr(key, "field_type", "").endswith("AUTO"):
            continue
        table = model._meta.table_name
        db.execute_sql(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({key.column_name}), 1), "
            f"MAX({key.column_name}) IS NOT NULL) FROM \"{table}\"",
            (f'"{table}"', key.column_name),
        )


def commit_without_waiting_for_disk() -> None:
    """Let the open PostgreSQL transaction commit without waiting for the
    disk (nothing on SQLite): for records a crash may lose harmlessly."""
    if is_postgres():
        db.execute_sql("SET LOCAL synchronous_commit = off")
