"""Affiliates' plugin settings (postback URLs, pixels) and their deliveries,
from the command line: set, show, test send; list and resend deliveries.

Every saved change follows the 24-hour rule (``settings.change_delay_hours``):
the command says which version it saved and when it takes effect.
"""

import click

from .common import JSON_OPTION, emit, user_by_email, with_db
from ..core import clock
from ..core.deliveries import outbox, setting_versions
from ..core.deliveries.affiliate_settings import (
    SettingsChoiceError,
    delivery_row,
    describe_versions,
    sample_event,
    test_values,
    version_row,
    with_preset,
)
from ..core.storage.models import EVENT_KINDS, Delivery, Participation, User

FIELD_VALUE = "FIELD=VALUE"


def _kind(services, name: str):
    kind = services.registry.kinds.get(name)
    if kind is None:
        known = ", ".join(sorted(services.registry.kinds)) or "none: enable a plugin in plugins.enabled"
        raise click.ClickException(f"no setting kind {name!r} (known: {known})")
    return kind


def _affiliate(email: str) -> User:
    return user_by_email(email, "affiliate")


def _scope(kind, affiliate: User, ref: str | None) -> Participation | None:
    if ref is None:
        return None
    if kind.scope != "participation":
        raise click.ClickException(f"{kind.name} is set once per affiliate: drop --ref")
    participation = Participation.get_or_none(Participation.ref_code == ref)
    if participation is None or participation.affiliate_id != affiliate.id:
        raise click.ClickException(f"{affiliate.email} has no participation with the refCode {ref!r}")
    return participation


def _pairs(kind, pairs) -> dict:
    values = {}
    known = {field.name for field in kind.fields}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.ClickException(f"{pair!r}: expected {FIELD_VALUE}")
        if name not in known:
            raise click.ClickException(f"{name!r} is not a setting of {kind.name} (fields: {', '.join(sorted(known))})")
        values[name] = value
    return values


def _where(affiliate: User, participation: Participation | None) -> str:
    if participation is None:
        return f"{affiliate.email} (every offer without its own setting)"
    return f"{affiliate.email} on {participation.offer.slug} (ref {participation.ref_code})"


def _values_text(values: dict) -> str:
    return "  ".join(f"{name}={value}" for name, value in values.items()) or "(no values)"


def _show_text(described: dict) -> str:
    def line(row):
        state = "" if row["enabled"] else " (off)"
        return (
            f"version {row['version']}{state}: {_values_text(row['values'])}  saved {clock.iso(row['saved_at'])}, "
            f"in effect from {clock.iso(row['effective_at'])}"
        )

    lines = [
        f"{described['kind']} of {described['affiliate']}"
        + (f" on ref {described['ref']}" if described["ref"] else " (every offer)")
    ]
    lines.append("active: " + (line(described["active"]) if described["active"] else "none"))
    if "falls_back_to" in described:
        fallback = described["falls_back_to"]
        lines.append("  in force instead: " + (line(fallback) + " (affiliate-wide)" if fallback else "nothing"))
    for row in described["pending"]:
        lines.append("pending: " + line(row))
    lines.append("history (newest first):")
    lines.extend("  " + line(row) for row in described["history"])
    if not described["history"]:
        lines.append("  none")
    return "\n".join(lines)


@click.group("settings")
def settings_group():
    """Affiliates' plugin settings: postback URLs, pixels (the 24-hour rule applies).

    Also on each affiliate's pages /settings/KIND (postback, fb_capi, ...)."""


@settings_group.command("set")
@click.argument("kind_name", metavar="KIND")
@click.argument("pairs", nargs=-1, metavar=f"[{FIELD_VALUE}]...")
@click.option("--affiliate", "email", required=True, help="The affiliate's email.")
@click.option("--ref", default=None, help="The participation's refCode (default: all the affiliate's offers).")
@click.option("--preset", default=None, help="Start from a preset (e.g. keitaro, binom, voluum, redtrack, generic).")
@click.option("--off", is_flag=True, help="Save a version that sends nothing (turns the kind off).")
@JSON_OPTION
@with_db
def settings_set(services, kind_name, pairs, email, ref, preset, off, as_json):
    """Save a new version of KIND's settings; prints when it takes effect."""
    kind = _kind(services, kind_name)
    affiliate = _affiliate(email)
    participation = _scope(kind, affiliate, ref)
    try:
        values = with_preset(kind, preset, _pairs(kind, pairs))
    except SettingsChoiceError as error:
        raise click.ClickException(str(error)) from None
    now = clock.now()
    before = setting_versions.version_in_force(
        kind.name, affiliate.id, participation.id if participation else None, now
    )
    try:
        version, warnings = setting_versions.save(
            kind,
            affiliate,
            values,
            participation=participation,
            enabled=not off,
            delay_hours=services.settings["settings.change_delay_hours"],
            now=now,
        )
    except setting_versions.SettingsError as error:
        raise click.ClickException(
            "not saved: " + "; ".join(f"{name} {why}" for name, why in error.fields.items())
        ) from None
    result = {
        **version_row(version),
        "kind": kind.name,
        "affiliate": affiliate.email,
        "ref": ref,
        "takes_effect_now": version.effective_at <= now,
        "in_force_until_then": before.id if before and version.effective_at > now else None,
        "warnings": warnings,
    }
    when = (
        "takes effect now"
        if result["takes_effect_now"]
        else f"takes effect at {clock.iso(version.effective_at)} "
        f"(in {services.settings['settings.change_delay_hours']} h); until then "
        + (f"version {before.id} stays in force" if before else "nothing is sent")
    )
    text = "\n".join(
        [f"warning: {warning}" for warning in warnings]
        + [
            f"saved version {version.id} of {kind.name} for {_where(affiliate, participation)}: {when}",
            "values: " + _values_text(result["values"]),
        ]
    )
    emit(result, as_json, text)


@settings_group.command("show")
@click.argument("kind_name", metavar="KIND")
@click.option("--affiliate", "email", required=True, help="The affiliate's email.")
@click.option("--ref", default=None, help="The participation's refCode (default: the affiliate-wide setting).")
@JSON_OPTION
@with_db
def settings_show(services, kind_name, email, ref, as_json):
    """The active version, the pending one with its time, and the history (secrets masked)."""
    kind = _kind(services, kind_name)
    affiliate = _affiliate(email)
    described = describe_versions(kind, affiliate, _scope(kind, affiliate, ref))
    emit(described, as_json, _show_text(described))


def _delivery_text(row: dict) -> str:
    head = (
        f"#{row['id']} {row['kind']} {row['status']}"
        + (" TEST" if row["is_test"] else "")
        + (f" {row['event']} {row['txid']}" if row["txid"] else "")
        + f"  attempts {row['attempts']}"
        + (f", next at {clock.iso(row['next_attempt_at'])}" if row["next_attempt_at"] else "")
    )
    lines = [head]
    for attempt in row["log"]:
        answer = f" {attempt['status_code']}" if attempt["status_code"] is not None else ""
        excerpt = " ".join(attempt["excerpt"].split())[:120]
        lines.append(
            f"  {clock.iso(attempt['at'])} {attempt['outcome']}{answer} {attempt['url']}"
            + (f"  answer: {excerpt!r}" if excerpt else "")
            + (f"  error: {attempt['error']}" if attempt["error"] else "")
        )
    return "\n".join(lines)


@settings_group.command("test")
@click.argument("kind_name", metavar="KIND")
@click.argument("pairs", nargs=-1, metavar=f"[{FIELD_VALUE}]...")
@click.option("--affiliate", "email", required=True, help="The affiliate's email.")
@click.option("--ref", default=None, help="The participation's refCode.")
@click.option(
    "--event", default="sale", show_default=True, type=click.Choice(EVENT_KINDS), help="The event the test pretends."
)
@click.option("--clickid", default="affnet-test", show_default=True, help="The tracker click id to send.")
@JSON_OPTION
@with_db
def settings_test(services, kind_name, pairs, email, ref, event, clickid, as_json):
    """Send one test delivery now, marked as a test, touching no money: to the
    newest saved version (pending or active) with the given FIELD=VALUE pairs
    laid over it (a field not given keeps its saved value)."""
    kind = _kind(services, kind_name)
    affiliate = _affiliate(email)
    participation = _scope(kind, affiliate, ref)
    given = _pairs(kind, pairs)
    try:
        values, setting_id = test_values(kind, affiliate, participation, given)
    except SettingsChoiceError:
        raise click.ClickException(f"nothing to test: give {FIELD_VALUE} or save a version first") from None
    try:
        setting_versions.validate(kind, values)
    except setting_versions.SettingsError as error:
        raise click.ClickException(
            "cannot test: " + "; ".join(f"{n} {why}" for n, why in error.fields.items())
        ) from None
    info = sample_event(affiliate, participation, event, clickid, clock.now())
    try:
        delivery = outbox.send_test(
            services.pm, services.registry, services.plugin_config, kind.name, info, values, setting_id=setting_id
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    row = delivery_row(delivery, outbox.attempts_of([delivery.id])[delivery.id])
    emit(row, as_json, _delivery_text(row))
    if delivery.status != "sent":
        raise SystemExit(1)


@click.group("deliveries")
def deliveries_group():
    """Postbacks and pixel events sent for affiliates: the log, and a resend by hand.

    Also on the pages /admin/deliveries (the operator's) and /deliveries (each affiliate's)."""


@deliveries_group.command("list")
@click.option("--affiliate", "email", default=None, help="Only this affiliate's deliveries.")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", default=50, show_default=True, type=int)
@JSON_OPTION
@with_db
def deliveries_list(services, email, status, limit, as_json):
    """Newest first, each with its attempts: time, URL (secrets masked), answer, error."""
    affiliate = _affiliate(email) if email else None
    found = outbox.deliveries_for_affiliate(affiliate.id if affiliate else None, status, limit)
    attempts = outbox.attempts_of([delivery.id for delivery in found])
    rows = [delivery_row(delivery, attempts[delivery.id]) for delivery in found]
    emit(rows, as_json, "\n".join(_delivery_text(row) for row in rows) or "no deliveries")


@deliveries_group.command("resend")
@click.argument("delivery_id", type=int)
@JSON_OPTION
@with_db
def deliveries_resend(services, delivery_id, as_json):
    """Send a delivery again at the worker's next round, whatever its state.

    Also on the page /admin/deliveries (the failing ones, one by one or all of a host)."""
    delivery = Delivery.get_or_none(Delivery.id == delivery_id)
    if delivery is None:
        raise click.ClickException(f"no delivery #{delivery_id}")
    outbox.resend(delivery)
    delivery = Delivery.get_by_id(delivery_id)
    emit(
        {"id": delivery.id, "status": delivery.status, "next_attempt_at": delivery.next_attempt_at},
        as_json,
        f"delivery #{delivery.id} will be sent again at the worker's next round",
    )


def register(cli):
    for command in (settings_group, deliveries_group):
        cli.add_command(command)
