"""`affnet migrate`: a new database gets the latest schema, an older one each newer step."""
from peewee import CharField
from playhouse.migrate import migrate as run

from affnet.core import migrations
from affnet.core.db import db
from affnet.core.models import SchemaVersion


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
