"""The click spool: ``affnet spool status`` and ``affnet spool load-quarantined``."""

from pathlib import Path

import click

from .common import JSON_OPTION, emit, with_db


@click.group()
def spool():
    """Clicks waiting in this machine's spool, and lines set aside."""


@spool.command()
@JSON_OPTION
@with_db
def status(services, as_json):
    """Files and lines waiting in each state: open (a web process writes it),
    ready (handed over for loading), claimed (being loaded), orphaned (its
    process died: the next round loads it) and quarantined (lines the
    database refused, set aside)."""
    states = services.spool.status()
    lines = [f"{state:<12} {counts['files']:>6} files {counts['lines']:>9} lines" for state, counts in states.items()]
    quarantined = services.spool.quarantined()
    if quarantined:
        lines += ["", "set aside (fix the lines, then: affnet spool load-quarantined):"]
        lines += [f"  {path}" for path in quarantined]
    emit(states, as_json, "\n".join(lines))


@spool.command("load-quarantined")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@JSON_OPTION
@with_db
def load_quarantined(services, files, as_json):
    """Load set-aside lines again (every quarantined file, or FILES). Lines
    still refused stay in their file and the exit code is 1."""
    loaded, refused = services.spool.load_quarantined(list(files) if files else None)
    emit({"loaded": loaded, "refused": refused}, as_json, f"{loaded} loaded, {refused} still refused")
    if refused:
        raise SystemExit(1)


def register(cli):
    cli.add_command(spool)
