"""Schema versions and how to bring an older database up to date.

A new database gets every table at once and the latest version number. An
older one gets, in order, each step newer than its recorded version. A step
is a function of the ``SchemaMigrator`` (``playhouse.migrate``) and the
database; append one to ``STEPS`` whenever a model changes, and never edit a
step that has shipped.
"""

from peewee import CharField, DateTimeField, ForeignKeyField, TextField
from playhouse.migrate import SchemaMigrator, migrate as run_migration

from .db import db, is_postgres
from .models import (
    ALL_MODELS,
    AuditEntry,
    NetworkSetting,
    RecoveryCode,
    WebhookCall,
    ClickRollup,
    Delivery,
    Event,
    LedgerEntry,
    NetworkSecret,
    PasswordReset,
    Payout,
    PayoutMinimum,
    PayoutRun,
    RollupMark,
    SchemaVersion,
    User,
    WorkerHeartbeat,
)


def _initial(migrator, database):
    """Version 1: the first schema (made by ``create_tables``)."""


# Indexes of version 1 that another index already covers (it begins with the same columns).
_COVERED_INDEXES = (
    "click_offer_id",
    "click_affiliate_id",
    "click_affiliate_id_created_at",
    "event_offer_id",
    "event_affiliate_id",
    "event_affiliate_id_occurred_at",
    "ledger_entry_affiliate_id",
)
# Setting versions are never deleted, so nothing looks deliveries up by their version.
_UNUSED_INDEXES = ("delivery_setting_id",)


def _leaner_indexes(migrator, database):
    """Fewer indexes to write on every click, event and delivery."""
    for name in _COVERED_INDEXES + _UNUSED_INDEXES + ("event_pending", "delivery_status", "delivery_next_attempt_at"):
        database.execute_sql(f"DROP INDEX IF EXISTS {name.join(database.quote)}")
    for model in (Event, Delivery):
        model._schema.create_indexes(safe=True)  # the partial ones that replace them


def _ad_click_ids(migrator, database):
    """Clicks keep the click ids of every ad platform (gclid, ttclid, ...)."""
    run_migration(migrator.add_column("click", "ad_click_ids", TextField(null=True)))


def _accounts(migrator, database):
    """Accounts for the pages: sign-ups waiting for approval, language, sessions that end, reset links; offers
    approve applications by hand or at once."""
    run_migration(
        migrator.add_column("users", "approved_at", DateTimeField(null=True)),
        migrator.add_column("users", "last_login_at", DateTimeField(null=True)),
    )
    # A NOT NULL column with a default is added in place by both databases; peewee's add_column would
    # copy the table on SQLite, which the foreign keys of existing rows refuse.
    for table, column, definition in (
        ("users", "language", "VARCHAR(255) NOT NULL DEFAULT ''"),
        ("users", "session_version", "INTEGER NOT NULL DEFAULT 0"),
        ("offer", "approval", "VARCHAR(255) NOT NULL DEFAULT 'manual'"),
    ):
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {definition}')
    User.update(approved_at=User.created_at).execute()  # every account made before was made by the operator
    database.create_tables([PasswordReset])


def _click_rollup(migrator, database):
    """Clicks counted per affiliate, offer and 15-minute slot, for fast reports by day and offer (the worker
    counts the existing clicks in its first rounds)."""
    database.create_tables([ClickRollup, RollupMark])


def _payouts(migrator, database):
    """Payout runs, payouts with their states and the affiliate's details, minimums per affiliate, the
    operator's provider credentials."""
    database.create_tables([PayoutRun, PayoutMinimum, NetworkSecret])
    run_migration(
        migrator.add_column("payout", "run_id", ForeignKeyField(PayoutRun, null=True, field=PayoutRun.id)),
        migrator.add_column("payout", "reference", CharField(null=True)),
        *(
            migrator.add_column("payout", name, DateTimeField(null=True))
            for name in ("claimed_until", "approved_at", "completed_at", "updated_at")
        ),
    )
    for column, definition in (
        ("details", "TEXT NOT NULL DEFAULT ''"),
        ("destination", "TEXT NOT NULL DEFAULT ''"),
        ("note", "TEXT NOT NULL DEFAULT ''"),
        ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ):
        database.execute_sql(f'ALTER TABLE "payout" ADD COLUMN "{column}" {definition}')
    for model in (Payout, LedgerEntry):
        model._schema.create_indexes(safe=True)


def guard_audit_log(database) -> None:
    """Make the database itself refuse to change or delete an audit entry (a trigger on each database)."""
    table = AuditEntry._meta.table_name
    if is_postgres():
        database.execute_sql(
            "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        database.execute_sql(f'DROP TRIGGER IF EXISTS audit_entry_append_only ON "{table}"')
        database.execute_sql(
            f'CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        database.execute_sql(
            f'CREATE TRIGGER IF NOT EXISTS audit_entry_no_{verb.lower()} BEFORE {verb} ON "{table}" '
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def _pages_for_everyone(migrator, database):
    """Two-factor log-in with recovery codes, the audit log, network policies set on a page, the last use
    of an offer key, test conversions, the last calls of a plugin's webhook, the workers' heartbeats."""
    database.create_tables([RecoveryCode, WebhookCall, NetworkSetting, WorkerHeartbeat, AuditEntry])
    run_migration(
        migrator.add_column("users", "totp_enabled_at", DateTimeField(null=True)),
        migrator.add_column("offer", "key_last_used_at", DateTimeField(null=True)),
    )
    for table, column, definition in (
        ("users", "totp_secret", "TEXT NOT NULL DEFAULT ''"),
        ("users", "totp_last_step", "BIGINT NOT NULL DEFAULT 0"),
        ("event", "is_test", "BOOLEAN NOT NULL DEFAULT FALSE"),
        ("participation", "decision_note", "TEXT NOT NULL DEFAULT ''"),
    ):
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {definition}')
    guard_audit_log(database)


def _clicks_over_limit(migrator, database):
    """Clicks beyond an address's click limit are flagged."""
    database.execute_sql('ALTER TABLE "click" ADD COLUMN "is_over_limit" BOOLEAN NOT NULL DEFAULT FALSE')


def _long_dedup_keys(migrator, database):
    """An event's idempotency key holds the longest ids the ingest API takes (a refund's holds two of them)."""
    if is_postgres():  # SQLite never held a VARCHAR to its length
        database.execute_sql('ALTER TABLE "event" ALTER COLUMN "dedup_key" TYPE TEXT')


STEPS = [
    (1, _initial),
    (2, _leaner_indexes),
    (3, _ad_click_ids),
    (4, _accounts),
    (5, _click_rollup),
    (6, _payouts),
    (7, _pages_for_everyone),
    (8, _clicks_over_limit),
    (9, _long_dedup_keys),
]
LATEST = STEPS[-1][0]


def current_version() -> int | None:
    """The database's schema version, or None for an empty database."""
    if not db.table_exists(SchemaVersion._meta.table_name):
        return None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate(progress=print) -> tuple[int | None, int]:
    """Create or upgrade the schema; returns (version before, version after)."""
    before = current_version()
    if before is None:
        with db.atomic():
            db.create_tables(ALL_MODELS)
            guard_audit_log(db)
            SchemaVersion.create(version=LATEST)
        progress(f"created the schema at version {LATEST}")
        return None, LATEST
    migrator = SchemaMigrator.from_database(db.obj)
    for version, step in STEPS:
        if version > before:
            progress(f"migrating to version {version}: {step.__doc__ or step.__name__}")
            with db.atomic():
                step(migrator, db)
                SchemaVersion.create(version=version)
    return before, max(before, LATEST)
