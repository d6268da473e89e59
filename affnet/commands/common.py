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


def user_by_email(email: str, role: str | None = None):
    """The account with this email (of this role), or the command's error naming what is missing."""
    from ..core.storage.models import User

    user = User.get_or_none(User.email == email.lower())
    if user is None or (role and user.role != role):
        raise click.ClickException(f"no {role or 'user'} with the email {email}")
    return user


def checked(refusals, function, *args, **kwargs):
    """Call a domain function; a refusal of the kinds in ``refusals`` ends the command with its message."""
    try:
        return function(*args, **kwargs)
    except refusals as error:
        raise click.ClickException(str(error)) from None


def table(rows: list[dict], columns: list[str], empty: str = "nothing") -> str:
    """``rows`` as an aligned text table of ``columns`` (what people read; ``--json`` is for scripts)."""
    if not rows:
        return empty
    cells = [[("" if row.get(name) is None else str(row.get(name))) for name in columns] for row in rows]
    widths = [max(len(name), *(len(line[i]) for line in cells)) for i, name in enumerate(columns)]
    lines = ["  ".join(name.ljust(widths[i]) for i, name in enumerate(columns)).rstrip()]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in cells]
    return "\n".join(lines)
