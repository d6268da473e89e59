"""`affnet migrate`: a new database gets the latest schema, an older one each newer step."""

from peewee import CharField
from playhouse.migrate import migrate as run

from affnet.core.storage import migrations
from affnet.core.storage.db import db, is_postgres
from affnet.core.storage.models import (
    AuditEntry,
    Click,
    ClickRollup,
    Event,
    NetworkSecret,
    NetworkSetting,
    PasswordReset,
    PayoutMinimum,
    PayoutRun,
    RecoveryCode,
    RollupMark,
    SchemaVersion,
    User,
    WebhookCall,
    WorkerHeartbeat,
)
from affnet.testing import click, click_id_of, ingest, load_clicks, sale_body


def test_a_migrated_database_is_at_the_latest_version(affnet_app):
    assert migrations.current_version() == migrations.LATEST


def test_migrating_again_changes_nothing(affnet_app):
    assert migrations.migrate(progress=lambda line: None) == (migrations.LATEST, migrations.LATEST)
    assert SchemaVersion.select().count() == 1


def test_an_older_database_gets_each_newer_step_in_order(affnet_app, monkeypatch):
    def add_offer_terms(migrator, database):
        """Offers get terms."""
        run(migrator.add_column("offer", "terms", CharField(default="")))

    latest = migrations.LATEST
    monkeypatch.setattr(migrations, "STEPS", migrations.STEPS + [(latest + 1, add_offer_terms)])
    monkeypatch.setattr(migrations, "LATEST", latest + 1)
    lines = []
    try:
        assert migrations.migrate(progress=lines.append) == (latest, latest + 1)
        assert lines == [f"migrating to version {latest + 1}: Offers get terms."]
        assert "terms" in [column.name for column in db.get_columns("offer")]
        assert migrations.current_version() == latest + 1
    finally:  # the PostgreSQL schema is shared by the session's tests
        if "terms" in [column.name for column in db.get_columns("offer")]:
            run(migrations.SchemaMigrator.from_database(db.obj).drop_column("offer", "terms"))
        SchemaVersion.delete().where(SchemaVersion.version > latest).execute()


_VERSION_1_INDEXES = {
    "click_offer_id": "click (offer_id)",
    "click_affiliate_id": "click (affiliate_id)",
    "click_affiliate_id_created_at": "click (affiliate_id, created_at)",
    "event_offer_id": "event (offer_id)",
    "event_affiliate_id": "event (affiliate_id)",
    "event_affiliate_id_occurred_at": "event (affiliate_id, occurred_at)",
    "ledger_entry_affiliate_id": "ledger_entry (affiliate_id)",
    "event_pending": "event (pending) WHERE pending",
    "delivery_status": "delivery (status)",
    "delivery_next_attempt_at": "delivery (next_attempt_at)",
    "delivery_setting_id": "delivery (setting_id)",
}


def _indexes():
    return {
        table: sorted(index.name for index in db.get_indexes(table))
        for table in ("click", "event", "ledger_entry", "delivery")
    }


def test_a_version_1_database_migrated_has_the_indexes_of_a_new_one(affnet_app):
    new = _indexes()
    for name in ("event_pending_payment", "delivery_due"):
        db.execute_sql(f'DROP INDEX "{name}"')
    for name, definition in _VERSION_1_INDEXES.items():
        db.execute_sql(f'CREATE INDEX "{name}" ON {definition}')
    _undo_steps_after(1)
    SchemaVersion.update(version=1).execute()
    assert migrations.migrate(progress=lambda line: None) == (1, migrations.LATEST)
    assert _indexes() == new
    assert not set(_VERSION_1_INDEXES) & {name for names in new.values() for name in names}


def _undo_steps_after(version: int):
    """The schema as ``version`` left it (the steps after it undone), for the test's database."""
    migrator = migrations.SchemaMigrator.from_database(db.obj)
    if not is_postgres():
        db.execute_sql("PRAGMA foreign_keys = OFF")  # SQLite drops a column by copying its table
    if version < 9 and is_postgres():
        db.execute_sql('ALTER TABLE "event" ALTER COLUMN "dedup_key" TYPE VARCHAR(255)')
    if version < 8:
        run(migrator.drop_column("click", "is_over_limit"))
    if version < 7:
        db.drop_tables([RecoveryCode, WebhookCall, NetworkSetting, AuditEntry, WorkerHeartbeat])
        for table, column in (
            ("users", "totp_secret"),
            ("users", "totp_enabled_at"),
            ("users", "totp_last_step"),
            ("offer", "key_last_used_at"),
            ("event", "is_test"),
            ("participation", "decision_note"),
        ):
            run(migrator.drop_column(table, column))
    if version < 6:
        for name in (
            "payout_run_id_affiliate_id_currency",
            "payout_method_reference",
            "payout_status",
            "ledger_entry_payout_id_kind",
        ):
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        columns = ("run_id", "reference", "claimed_until", "approved_at", "completed_at", "updated_at",
                   "details", "destination", "note", "attempts")  # fmt: skip
        if is_postgres():
            for column in columns:
                run(migrator.drop_column("payout", column))
        else:  # SQLite refuses to drop a column of a foreign key: the version-5 table is made again
            kept = [c.name for c in db.get_columns("payout") if c.name not in columns]
            db.execute_sql('ALTER TABLE "payout" RENAME TO "payout_v6"')
            db.execute_sql(
                'CREATE TABLE "payout" ("id" INTEGER NOT NULL PRIMARY KEY, "affiliate_id" INTEGER NOT NULL, '
                '"currency" VARCHAR(3) NOT NULL, "amount" BIGINT NOT NULL, "method" VARCHAR(255) NOT NULL, '
                '"status" VARCHAR(255) NOT NULL, "idempotency_key" VARCHAR(255) NOT NULL UNIQUE, '
                '"external_id" VARCHAR(255), "error" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "sent_at" DATETIME, '
                'FOREIGN KEY ("affiliate_id") REFERENCES "users" ("id"))'
            )
            db.execute_sql(f'INSERT INTO "payout" SELECT {", ".join(kept)} FROM "payout_v6"')
            db.execute_sql('DROP TABLE "payout_v6"')
        db.drop_tables([PayoutRun, PayoutMinimum, NetworkSecret])
    if version < 5:
        db.drop_tables([ClickRollup, RollupMark])
    if version < 4:
        for column in ("approved_at", "language", "session_version", "last_login_at"):
            run(migrator.drop_column("users", column))
        run(migrator.drop_column("offer", "approval"))
        db.drop_tables([PasswordReset])
    if version < 3:
        run(migrator.drop_column("click", "ad_click_ids"))
    if not is_postgres():
        db.execute_sql("PRAGMA foreign_keys = ON")


def test_a_version_2_database_migrated_keeps_its_clicks_and_stores_ad_click_ids(
    affnet_app, affnet_client, affnet_network
):
    old = click_id_of(click(affnet_client, affnet_network.ref, s1="before"))
    load_clicks(affnet_app)
    _undo_steps_after(2)
    SchemaVersion.update(version=2).execute()
    assert migrations.migrate(progress=lambda line: None) == (2, migrations.LATEST)
    new = click_id_of(click(affnet_client, affnet_network.ref, gclid="Cj0-after"))
    load_clicks(affnet_app)
    assert Click.get(Click.click_id == old).s1 == "before"
    assert Click.get(Click.click_id == new).ad_click_ids == '{"gclid":"Cj0-after"}'


def test_a_version_3_database_migrated_keeps_its_accounts_able_to_log_in(affnet_app, affnet_network):
    _undo_steps_after(3)
    SchemaVersion.update(version=3).execute()
    assert migrations.migrate(progress=lambda line: None) == (3, migrations.LATEST)
    owner = User.get(User.email == "owner@example.com")
    assert owner.approved_at == owner.created_at and owner.session_version == 0 and owner.language == ""
    assert affnet_network.offer.__class__.get_by_id(affnet_network.offer.id).approval == "manual"
    assert PasswordReset.select().count() == 0


def test_a_version_4_database_migrated_counts_its_clicks_in_the_rollup(affnet_app, affnet_client, affnet_network):
    from datetime import timedelta

    from affnet.core import clock
    from affnet.core.clicks import rollup
    from affnet.core.reports import build_report

    click(affnet_client, affnet_network.ref)
    _undo_steps_after(4)
    SchemaVersion.update(version=4).execute()
    assert migrations.migrate(progress=lambda line: None) == (4, migrations.LATEST)
    today = clock.now().date()
    assert build_report("day", today, today).total.clicks == 1  # read from the clicks until the worker counts them
    assert rollup.advance(now=clock.now() + timedelta(hours=1)) > clock.now()
    assert ClickRollup.select().count() == 1
    assert build_report("day", today - timedelta(days=1), today + timedelta(days=1)).total.clicks == 1


def test_a_version_6_database_migrated_keeps_its_accounts_and_guards_its_audit_log(affnet_app, affnet_network):
    from peewee import DatabaseError

    _undo_steps_after(6)
    SchemaVersion.update(version=6).execute()
    assert migrations.migrate(progress=lambda line: None) == (6, migrations.LATEST)
    owner = User.get(User.email == "owner@example.com")
    assert (owner.totp_secret, owner.totp_enabled_at) == ("", None)
    entry = AuditEntry.create(action="test.entry", subject="after the migration")
    for change in (
        lambda: AuditEntry.update(subject="edited").where(AuditEntry.id == entry.id).execute(),
        lambda: AuditEntry.delete().where(AuditEntry.id == entry.id).execute(),
    ):
        try:
            with db.atomic():
                change()
        except DatabaseError as refused:
            assert "append-only" in str(refused)
        else:
            raise AssertionError("the migrated audit log let an entry change")
    assert AuditEntry.get_by_id(entry.id).subject == "after the migration"


def test_a_version_7_database_migrated_keeps_its_clicks_and_flags_none_over_the_limit(affnet_app, affnet_network):
    click(affnet_app.test_client(), affnet_network.ref)
    _undo_steps_after(7)
    SchemaVersion.update(version=7).execute()
    assert migrations.migrate(progress=lambda line: None) == (7, migrations.LATEST)
    assert [(row.ip, row.is_over_limit) for row in Click.select()] == [("127.0.0.1", False)]


def test_a_version_8_database_migrated_keeps_its_events_and_takes_the_longest_refund_ids(affnet_app, affnet_network):
    client = affnet_app.test_client()
    click_id = click_id_of(click(client, affnet_network.ref))
    assert ingest(client, affnet_network, "conversion", sale_body(click_id, payment="pi_1")).status_code == 201
    _undo_steps_after(8)
    SchemaVersion.update(version=8).execute()
    assert migrations.migrate(progress=lambda line: None) == (8, migrations.LATEST)
    refund = {"external_payment_id": "pi_1", "amount": "1.00", "refund_id": "r" * 255}
    assert ingest(client, affnet_network, "refund", refund).status_code == 201
    assert [event.dedup_key for event in Event.select().order_by(Event.id)] == ["pay:pi_1", "refund:pi_1:" + "r" * 255]
