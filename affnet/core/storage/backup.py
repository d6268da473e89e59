"""Backups that restore into an empty database of either kind.

A backup is one gzip'd file of JSON lines, portable between SQLite and
PostgreSQL:

1. a header: ``{"format": "affnet-backup", "format_version": 1,
   "schema_version": 1, "created_at": …, "database": "sqlite", "tables": […]}``;
2. per table, in dependency order: ``{"table": name, "columns": […]}``, one
   JSON array per row (values as the models read them: money as a decimal
   string, times as ISO 8601, JSON fields as JSON), then
   ``{"end": name, "rows": n}``;
3. a trailer ``{"end_of_backup": true, "rows": {table: n}}``: a file without
   it is incomplete, and restore refuses it before writing anything.

Tables are read in chunks ordered by primary key, inside one read
transaction (a REPEATABLE READ snapshot on PostgreSQL, a WAL read snapshot on
SQLite), so a live database can be backed up while it serves traffic, the
backup is consistent, and a big table is never held in memory.

The encryption keys are not in a backup (stored secrets stay encrypted in
it): back up the instance folder too, or restored secrets cannot be read.
"""

import base64
import gzip
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from collections.abc import Callable

from peewee import BlobField, DateField, DateTimeField, DecimalField, ForeignKeyField, sort_models

from .. import clock
from . import migrations, sql
from .db import db, is_postgres
from .models import ALL_MODELS, MoneyField, SchemaVersion

FORMAT = "affnet-backup"
FORMAT_VERSION = 1
READ_CHUNK = 5000
WRITE_BATCH = 5000
PROGRESS_EVERY = 100_000


class BackupError(Exception):
    """A backup that cannot be written or restored; the message says why."""


@dataclass
class Summary:
    """What a backup or restore did: rows per table, in the order done."""

    path: str
    schema_version: int
    rows: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def as_dict(self) -> dict:
        return {
            "file": self.path,
            "schema_version": self.schema_version,
            "rows": dict(self.rows),
            "total_rows": self.total_rows,
            "seconds": round(self.seconds, 3),
        }

    def line(self, verb: str) -> str:
        tables = ", ".join(f"{name} {count}" for name, count in self.rows.items())
        return (
            f"{verb} {self.total_rows} rows of {len(self.rows)} tables in {self.seconds:.1f} s "
            f"(schema version {self.schema_version}, {self.path}): {tables}"
        )


def _quiet(_line: str) -> None:
    pass


def _models_in_order():
    """Every model, parents before children (a foreign key's table first)."""
    return sort_models(ALL_MODELS)


def _codec(model_field):
    """(encode, decode) between a model's Python value and JSON."""
    if isinstance(model_field, (MoneyField, DecimalField)):
        return str, Decimal
    if isinstance(model_field, DateTimeField):
        return datetime.isoformat, datetime.fromisoformat
    if isinstance(model_field, DateField):
        return date.isoformat, date.fromisoformat
    if isinstance(model_field, BlobField):
        return (lambda value: base64.b64encode(bytes(value)).decode()), base64.b64decode
    return None, None


def _encoders(fields):
    codecs = [_codec(f)[0] for f in fields]
    return lambda row: [
        value if value is None or encode is None else encode(value) for value, encode in zip(row, codecs)
    ]


def _decoders(fields):
    codecs = [_codec(f)[1] for f in fields]
    return lambda row: [
        value if value is None or decode is None else decode(value) for value, decode in zip(row, codecs)
    ]


def _snapshot():
    """A read transaction whose reads all see one moment of the database."""
    if is_postgres():
        return db.atomic(isolation_level="REPEATABLE READ")
    return db.atomic(lock_type="DEFERRED")


def write_backup(path, progress: Callable[[str], None] = _quiet) -> Summary:
    """Write a backup of the open database to ``path`` (written beside it
    first and renamed when complete, so ``path`` is never a partial file)."""
    started = time.monotonic()
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    models = _models_in_order()
    try:
        with _snapshot():
            version = migrations.current_version()
            if not version:
                raise BackupError("the database has no affnet schema: nothing to back up")
            summary = Summary(str(path), version)
            header = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "schema_version": version,
                "created_at": clock.now().isoformat(),
                "database": "postgresql" if is_postgres() else "sqlite",
                "tables": [model._meta.table_name for model in models],
            }
            with gzip.open(partial, "wt", encoding="utf-8", compresslevel=5) as out:
                out.write(json.dumps(header) + "\n")
                for model in models:
                    summary.rows[model._meta.table_name] = _dump_table(model, out, progress)
                out.write(json.dumps({"end_of_backup": True, "rows": summary.rows}) + "\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    summary.seconds = time.monotonic() - started
    return summary


def _dump_table(model, out, progress) -> int:
    table = model._meta.table_name
    fields = list(model._meta.sorted_fields)
    primary_key = model._meta.primary_key
    encode = _encoders(fields)
    out.write(json.dumps({"table": table, "columns": [f.column_name for f in fields]}) + "\n")
    count, last = 0, None
    while True:
        query = model.select(*fields).order_by(primary_key).limit(READ_CHUNK)
        if last is not None:
            query = query.where(primary_key > last)
        rows = list(query.tuples())
        for row in rows:
            out.write(json.dumps(encode(row), separators=(",", ":")) + "\n")
        count += len(rows)
        if count and count % PROGRESS_EVERY < len(rows):
            progress(f"{table}: {count} rows…")
        if len(rows) < READ_CHUNK:
            break
        last = rows[-1][fields.index(primary_key)]
    out.write(json.dumps({"end": table, "rows": count}) + "\n")
    progress(f"{table}: {count} rows")
    return count


def read_header(path) -> dict:
    """The backup's header, after checking the whole file is intact (its
    gzip checksum and its closing line); raises BackupError otherwise."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "null"))
            last = None
            for line in lines:
                last = line
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is not a complete affnet backup ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not an affnet backup")
    if header.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} has backup format {header.get('format_version')}; this affnet reads format {FORMAT_VERSION}"
        )
    try:
        trailer = json.loads(last or "null")
    except json.JSONDecodeError:
        trailer = None
    if not isinstance(trailer, dict) or not trailer.get("end_of_backup"):
        raise BackupError(f"{path} is incomplete (it has no closing line): the backup did not finish")
    return header


def _database_is_empty() -> str | None:
    """None when no affnet table holds a row; else the first table that does."""
    existing = set(db.get_tables())
    for model in ALL_MODELS:
        if model is SchemaVersion or model._meta.table_name not in existing:
            continue
        if model.select().limit(1).exists():
            return model._meta.table_name
    return None


def restore_backup(path, progress: Callable[[str], None] = _quiet) -> Summary:
    """Load a backup into the open database, which must hold no data (an
    empty file or database, or one with only the schema made by ``affnet
    migrate``). Refuses a backup of a newer (or older) schema than this
    affnet's. Rows go in batches, one transaction each; if a restore stops
    half-way, empty the database and run it again."""
    started = time.monotonic()
    header = read_header(path)
    version = header.get("schema_version")
    if not isinstance(version, int) or version > migrations.LATEST:
        raise BackupError(
            f"{path} holds schema version {version}, newer than this affnet's "
            f"({migrations.LATEST}): upgrade affnet, then restore"
        )
    if version < migrations.LATEST:
        raise BackupError(
            f"{path} holds schema version {version}, older than this affnet's "
            f"({migrations.LATEST}): restore it with the affnet that made it, then upgrade "
            f"and run `affnet migrate`"
        )
    models = {model._meta.table_name: model for model in ALL_MODELS}
    unknown = [name for name in header.get("tables", []) if name not in models]
    if unknown:
        raise BackupError(f"{path} has tables this affnet does not know: {', '.join(unknown)}")
    current = migrations.current_version()
    if current is not None and current != version:
        raise BackupError(f"the database is at schema version {current}, the backup at {version}")
    busy = _database_is_empty() if current is not None else None
    if busy:
        raise BackupError(f"the database is not empty (table {busy} has rows): restore only into an empty one")
    with db.atomic():
        db.create_tables(ALL_MODELS, safe=True)
        migrations.guard_audit_log(db)
        SchemaVersion.delete().execute()
    summary = Summary(str(path), version)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            record = json.loads(line)
            if record.get("end_of_backup"):
                break
            model = models[record["table"]]
            summary.rows[model._meta.table_name] = _load_table(model, record["columns"], lines, progress)
    if is_postgres():
        sql.reset_sequences(ALL_MODELS)
    summary.seconds = time.monotonic() - started
    return summary


def _load_table(model, columns, lines, progress) -> int:
    table = model._meta.table_name
    by_column = {f.column_name: f for f in model._meta.sorted_fields}
    missing = [name for name in columns if name not in by_column]
    if missing:
        raise BackupError(f"table {table}: the backup has columns this affnet does not know: {', '.join(missing)}")
    fields = [by_column[name] for name in columns]
    decode = _decoders(fields)
    # A row may point at a later row of its own table (a refund recorded before
    # its payment): such links are set once the whole table is in.
    self_links = [i for i, f in enumerate(fields) if isinstance(f, ForeignKeyField) and f.rel_model is model]
    key_index = fields.index(model._meta.primary_key)
    later_links: list[tuple] = []
    batch, count = [], 0
    for line in lines:
        row = json.loads(line)
        if isinstance(row, dict):
            if row.get("end") != table or row.get("rows") != count + len(batch):
                raise BackupError(f"table {table}: the backup's row count does not match its rows")
            break
        row = decode(row)
        for i in self_links:
            if row[i] is not None and row[i] >= row[key_index]:
                later_links.append((row[key_index], fields[i], row[i]))
                row[i] = None
        batch.append(row)
        if len(batch) >= WRITE_BATCH:
            count += _insert(model, fields, batch)
            batch = []
            if count % PROGRESS_EVERY < WRITE_BATCH:
                progress(f"{table}: {count} rows…")
    count += _insert(model, fields, batch)
    with db.atomic():
        for key, link_field, target in later_links:
            model.update({link_field: target}).where(model._meta.primary_key == key).execute()
    progress(f"{table}: {count} rows")
    return count


def _insert(model, fields, rows) -> int:
    """Insert one batch in one transaction, through the driver's bulk path
    (peewee's own insert costs several times more per row)."""
    if not rows:
        return 0
    # peewee's own field types hold values the drivers take as they are; a
    # field type of affnet's (money in units, JSON as text) converts its own.
    custom = [(i, f.db_value) for i, f in enumerate(fields) if type(f).__module__ != "peewee"]
    if custom:
        for row in rows:
            for i, convert in custom:
                row[i] = convert(row[i])
    with db.atomic():
        sql.insert_values(model, fields, rows)
    return len(rows)
