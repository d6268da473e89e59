"""Stats commands: ``affnet report`` and the stats API tokens."""

import sys
import time
from datetime import date, datetime, timedelta, UTC

import click

from .common import JSON_OPTION, emit, user_by_email, with_db
from ..core.network import api_tokens
from ..core.storage.models import Offer, User
from ..core.reports import GROUPS, ReportError, build_report, zone


def _user(email: str) -> User:
    return user_by_email(email)


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write the day as 2026-06-01", param_hint=name) from None


def _printable(text: str) -> str:
    """``text`` with every character a terminal would act on (an escape
    sequence, a carriage return) written as its Python escape: sub values
    are a visitor's text."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def table(rows: list[dict]) -> str:
    """Rows of equal keys as an aligned text table (numbers to the right)."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[_printable(str(row[column])) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[n]) for line in cells)) for n, column in enumerate(columns)]
    left = {0}

    def line(values):
        return "  ".join(
            value.ljust(width) if n in left else value.rjust(width)
            for n, (value, width) in enumerate(zip(values, widths))
        ).rstrip()

    out = [line(columns), line(["-" * width for width in widths])]
    out.extend(line(values) for values in cells[:-1])
    out.append(line(["-" * width for width in widths]))
    out.append(line(cells[-1]))
    return "\n".join(out)


@click.command("report")
@click.option("--group-by", type=click.Choice(GROUPS), default="day", show_default=True)
@click.option("--from", "date_from", metavar="DAY", help="First day (2026-06-01); default: 6 days before --to.")
@click.option("--to", "date_to", metavar="DAY", help="Last day, included; default: today in --tz.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone whose local days are counted.")
@click.option("--affiliate", "affiliate_email", help="Only this affiliate (email).")
@click.option("--offer", "offer_slug", help="Only this offer (slug).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@JSON_OPTION
@with_db
def report(services, group_by, date_from, date_to, tz, affiliate_email, offer_slug, as_csv, as_json):
    """Clicks, conversions, money, EPC and CR, grouped by day, offer,
    affiliate or a sub value (docs/stats.md defines every column)."""
    try:
        zone_info = zone(tz)
    except ReportError as error:
        raise click.BadParameter(str(error), param_hint="--tz") from None
    last = _day(date_to, "--to") or datetime.now(UTC).astimezone(zone_info).date()
    first = _day(date_from, "--from") or last - timedelta(days=min(6, (last - date.min).days))
    affiliate = _user(affiliate_email) if affiliate_email else None
    offer = None
    if offer_slug:
        offer = Offer.get_or_none(Offer.slug == offer_slug)
        if offer is None:
            raise click.ClickException(f"no offer {offer_slug!r}")
    began = time.perf_counter()
    try:
        result = build_report(group_by, first, last, zone_info, affiliate=affiliate, offer=offer)
    except ReportError as error:
        if error.field in ("from", "to"):
            raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
        raise click.ClickException(str(error)) from None
    seconds = time.perf_counter() - began
    if as_json:
        emit(result.as_dict(), True)
        return
    if as_csv:
        sys.stdout.write(result.as_csv("\n"))  # as it is: click.echo would drop escape sequences in the data
        return
    click.echo(table(list(result.flat_rows())))
    scope = (
        " ".join(
            filter(None, [affiliate_email and f"affiliate {affiliate_email}", offer_slug and f"offer {offer_slug}"])
        )
        or "whole network"
    )
    click.echo(
        f"{len(result.rows)} rows by {group_by}, {first} to {last} ({zone_info.key}), {scope}: "
        f"{result.total.clicks} clicks, {result.total.sales} sales, in {seconds:.2f} s"
    )


@click.group()
def tokens():
    """Affiliates' stats API tokens.

    Also on each affiliate's page /tokens."""


@tokens.command("create")
@click.option("--affiliate", "affiliate_email", required=True)
@click.option("--name", required=True, help="What it is for, e.g. the tracker that will use it.")
@JSON_OPTION
@with_db
def tokens_create(services, affiliate_email, name, as_json):
    """Make a token; prints it this once (only its hash is kept)."""
    try:
        row, token = api_tokens.create_token(_user(affiliate_email), name)
    except api_tokens.TokenError as error:
        raise click.ClickException(str(error)) from None
    base = services.settings["base_url"]
    emit(
        {
            "id": row.id,
            "name": row.name,
            "affiliate": affiliate_email,
            "token": token,
            "example": f"{base}/api/affiliate/stats-api?token={token}&format=csv",
        },
        as_json,
        f"token {row.id} ({row.name}) for {affiliate_email}: {token}\n(shown this once: keep it now)",
    )


@tokens.command("list")
@click.option("--affiliate", "affiliate_email", required=True)
@JSON_OPTION
@with_db
def tokens_list(services, affiliate_email, as_json):
    """An affiliate's tokens: name, last characters, made, last used, revoked."""
    rows = [
        {
            "id": row.id,
            "name": row.name,
            "hint": row.hint,
            "created_at": row.created_at,
            "last_used_at": row.last_used_at,
            "revoked_at": row.revoked_at,
        }
        for row in api_tokens.list_tokens(_user(affiliate_email))
    ]
    text = (
        "\n".join(
            f"{row['id']:>4}  {row['name']:<24} {row['hint']:<6} made {row['created_at']:%Y-%m-%d %H:%M}  "
            f"used {row['last_used_at'] and format(row['last_used_at'], '%Y-%m-%d %H:%M') or 'never'}"
            f"{'  REVOKED ' + format(row['revoked_at'], '%Y-%m-%d %H:%M') if row['revoked_at'] else ''}"
            for row in rows
        )
        or "no tokens"
    )
    emit(rows, as_json, text)


@tokens.command("revoke")
@click.argument("token_id", type=int)
@JSON_OPTION
@with_db
def tokens_revoke(services, token_id, as_json):
    """Revoke a token; it stops working at once."""
    try:
        row = api_tokens.revoke_token(token_id)
    except api_tokens.TokenError as error:
        raise click.ClickException(str(error)) from None
    emit(
        {"id": row.id, "name": row.name, "revoked_at": row.revoked_at}, as_json, f"token {row.id} ({row.name}) revoked"
    )


def register(cli):
    for command in (report, tokens):
        cli.add_command(command)
