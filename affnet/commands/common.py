"""What the commands share: ``--json``, printing a result, and running a
command with the services loaded and a database connection open. Plugin
commands get these from ``affnet.plugins``."""

import json
from datetime import datetime
from decimal import Decimal
from functools import wraps

import click

from ..core.storage.db import db

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return str(value)


def emit(result, as_json: bool, text: str | None = None) -> None:
    """Print ``result`` as JSON, or ``text`` (or key: value lines) for people."""
    if as_json:
        click.echo(json.dumps(result, indent=2, default=_default))
    elif text is not None:
        click.echo(text)
    elif isinstance(result, dict):
        for key, value in result.items():
            click.echo(
                f"{key}: {_default(value) if not isinstance(value, (list, dict)) else json.dumps(value, default=_default)}"
            )
    else:
        click.echo(result)


def with_db(function):
    """Run the command with the services loaded and a database connection open."""

    @wraps(function)
    @click.pass_obj
    def wrapper(ctx, *args, **kwargs):  # ctx: affnet.cli.Context
        services = ctx.services()
        with db.connection_context():
            return function(services, *args, **kwargs)

    return wrapper
