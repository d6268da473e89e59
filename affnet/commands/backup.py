"""Backups: ``affnet backup FILE`` and ``affnet restore FILE``."""

import click

from .common import JSON_OPTION, emit
from ..core.storage.db import db, open_database


def _progress(as_json: bool):
    return (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@JSON_OPTION
@click.pass_obj
def backup(ctx, file, as_json):
    """Write every table to FILE (gzip'd JSON lines; SQLite and PostgreSQL alike).

    Safe while affnet runs: the backup is one consistent snapshot. The
    encryption keys are not in it: back up the instance folder as well."""
    from ..core.storage.backup import BackupError, write_backup

    open_database(ctx.settings.database_url)
    try:
        with db.connection_context():
            summary = write_backup(file, progress=_progress(as_json))
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    emit(summary.as_dict(), as_json, summary.line("backed up"))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@JSON_OPTION
@click.pass_obj
def restore(ctx, file, as_json):
    """Load FILE (made by `affnet backup`) into the configured database.

    The database must hold no data: a new SQLite file, or an empty PostgreSQL
    database (the schema may already be made by `affnet migrate`)."""
    from ..core.storage.backup import BackupError, restore_backup

    open_database(ctx.settings.database_url)
    try:
        with db.connection_context():
            summary = restore_backup(file, progress=_progress(as_json))
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    emit(summary.as_dict(), as_json, summary.line("restored"))


def register(cli):
    for command in (backup, restore):
        cli.add_command(command)
