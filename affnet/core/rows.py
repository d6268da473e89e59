"""Inserting a row with SQL that is built once.

peewee builds the SQL of every query anew, which on the ingest path cost more
than the database did. ``create`` is ``Model.create`` for the rows written on
every event (the event, its ledger entry, its deliveries): the model applies
its defaults, the INSERT is built once per model and set of columns, and
only the values change.
"""
import threading

from .db import db, is_postgres

_statements: dict = {}
_lock = threading.Lock()


def _statement(model, names: tuple, postgres: bool):
    key = (model, names, postgres)
    found = _statements.get(key)
    if found is None:
        database = db.obj
        fields = [model._meta.fields[name] for name in names]
        quote = lambda name: name.join(database.quote)  # noqa: E731
        sql = (f"INSERT INTO {quote(model._meta.table_name)} ({', '.join(quote(f.column_name) for f in fields)}) "
               f"VALUES ({', '.join([database.param] * len(fields))})")
        if postgres:
            sql += f" RETURNING {quote(model._meta.primary_key.column_name)}"
        with _lock:
            found = _statements[key] = (sql, fields)
    return found


def create(model, **values):
    """Insert one row and return the model instance, as ``model.create`` does."""
    instance = model(**values)
    data = {name: value for name, value in instance.__data__.items() if name != model._meta.primary_key.name}
    postgres = is_postgres()
    sql, fields = _statement(model, tuple(data), postgres)
    cursor = db.execute_sql(sql, [field.db_value(data[field.name]) for field in fields])
    instance._pk = cursor.fetchone()[0] if postgres else cursor.lastrowid
    instance._dirty.clear()
    return instance


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
    return db.execute_sql(sql, params).fetchall()
