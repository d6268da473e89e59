"""``affnet payouts``: the weekly run by hand, review, sending, the books,
the affiliate's method, minimums and the operator's provider credentials."""

import sys
from decimal import Decimal, InvalidOperation

import click

from .common import JSON_OPTION, checked, emit, table, user_by_email, with_db
from ..core.deliveries.setting_versions import SettingsError
from ..core.earnings import ledger, payouts as domain
from ..core.earnings.money import parse_currency
from ..core.network.network_secrets import network_secret_hints, set_network_secret
from ..core.storage.models import PAYOUT_STATES, Payout, PayoutRun, User

LIST_COLUMNS = ["payout_id", "run", "affiliate", "method", "amount", "currency", "status", "reference"]


def _methods(services) -> domain.Methods:
    return domain.Methods.from_plugins(services.pm)


def _payout(payout_id: int) -> Payout:
    found = Payout.get_or_none(Payout.id == payout_id)
    if found is None:
        raise click.ClickException(f"no payout {payout_id}")
    return found


def _affiliate(email: str) -> User:
    return user_by_email(email, "affiliate")


def _selected(run_week: str | None, status: str | None) -> list[Payout]:
    query = Payout.select().order_by(Payout.id)
    if run_week:
        run = PayoutRun.get_or_none(PayoutRun.week == run_week)
        if run is None:
            raise click.ClickException(f"no run for the week {run_week}")
        query = query.where(Payout.run == run.id)
    if status:
        query = query.where(Payout.status == status)
    return list(query)


def _checked(function, *args, **kwargs):
    return checked(domain.PayoutError, function, *args, **kwargs)


@click.group()
def payouts():
    """Pay affiliates: the weekly run, review, sending, and the books (docs/payouts.md).

    Also on the pages /admin/payouts (the operator's) and /payouts (each affiliate's method and balances)."""


@payouts.command("run")
@click.option("--mode", type=click.Choice(["review", "auto"]), default=None, help="Default: the payouts.mode setting.")
@JSON_OPTION
@with_db
def payouts_run(services, mode, as_json):
    """Make this week's run now (the worker makes it on payouts.weekday at payouts.time)."""
    methods = _methods(services)
    run, made = domain.run_payouts(services.settings, methods, mode=mode)
    sent = domain.send_approved(services, methods, payout_ids=[p.id for p in made]) if run.mode == "auto" else {}
    result = {
        "week": run.week,
        "mode": run.mode,
        "made": [domain.as_row(Payout.get_by_id(p.id)) for p in made],
        "totals": [
            {"currency": currency, "method": method, "amount": str(amount)}
            for (currency, method), amount in sorted(domain.totals(made).items())
        ],
        "skipped": run.skipped,
        "sent": sent,
    }
    if as_json:
        return emit(result, True)
    if not made:
        click.echo(f"run {run.week}: no new payout")
    else:
        click.echo(f"run {run.week} ({run.mode}): {len(made)} payouts")
        click.echo(table(result["made"], LIST_COLUMNS))
        for line in result["totals"]:
            click.echo(f"total {line['amount']} {line['currency']} by {line['method']}")
    for skip in run.skipped:
        click.echo(f"skipped {skip['affiliate']} {skip['balance']} {skip['currency']}: {skip['reason']}")


@payouts.command("list")
@click.option("--run", "run_week", default=None, help="Only this run's (its week, such as 2026-W49).")
@click.option("--status", type=click.Choice(list(PAYOUT_STATES)), default=None)
@JSON_OPTION
@with_db
def payouts_list(services, run_week, status, as_json):
    """Payouts, failed ones first."""
    rows = [domain.as_row(p) for p in _selected(run_week, status)]
    rows.sort(key=lambda row: (row["status"] != "failed", row["payout_id"]))
    emit(rows, as_json, table(rows, LIST_COLUMNS, "no payout"))


@payouts.command("show")
@click.argument("payout_id", type=int)
@JSON_OPTION
@with_db
def payouts_show(services, payout_id, as_json):
    """One payout, with its state, reference and the provider's last word."""
    emit(domain.as_row(_payout(payout_id)), as_json)


@payouts.command("approve")
@click.argument("payout_ids", type=int, nargs=-1)
@click.option("--run", "run_week", default=None, help="Approve every payout of this run that awaits approval.")
@JSON_OPTION
@with_db
def payouts_approve(services, payout_ids, run_week, as_json):
    """Approve payouts awaiting approval (the worker sends them within a minute)."""
    ids = list(payout_ids) + ([p.id for p in _selected(run_week, "awaiting_approval")] if run_week else [])
    if not ids:
        raise click.ClickException("name payouts or a run (--run 2026-W49)")
    emit({"approved": domain.approve(ids)}, as_json)


@payouts.command("send")
@click.argument("payout_ids", type=int, nargs=-1)
@JSON_OPTION
@with_db
def payouts_send(services, payout_ids, as_json):
    """Send approved payouts now (all, or those named), then ask the providers about sent ones."""
    methods = _methods(services)
    sent = domain.send_approved(services, methods, payout_ids=list(payout_ids) or None)
    polled = domain.poll_sent(services, methods)
    emit({"sent": sent, "polled": polled}, as_json)


@payouts.command("cancel")
@click.argument("payout_id", type=int)
@JSON_OPTION
@with_db
def payouts_cancel(services, payout_id, as_json):
    """Cancel an unsent or failed payout; its amount returns to the affiliate's balance."""
    _checked(domain.cancel, _payout(payout_id))
    emit(domain.as_row(_payout(payout_id)), as_json)


@payouts.command("export")
@click.option("--run", "run_week", default=None, help="One run's payouts (default: all).")
@JSON_OPTION
@with_db
def payouts_export(services, run_week, as_json):
    """The payouts as CSV for the books: affiliate, method, destination, amount, currency, reference."""
    selected = _selected(run_week, None)
    if as_json:
        return emit([domain.as_row(p) for p in selected], True)
    sys.stdout.write(domain.export_csv(selected))


@payouts.command("transfers")
@click.argument("method")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--again", is_flag=True, help="Also payouts already in an earlier file (that file was lost unpaid).")
@with_db
def payouts_transfers(services, method, output, again):
    """The mass-transfer file of a method the operator pays by hand (USDT): each sent payout without a
    reference goes into one file; record the hashes with `record` or `import-references`."""
    name, content = _checked(domain.transfer_file, services, _methods(services), method, again)
    path = output or name
    with open(path, "wb") as handle:
        handle.write(content)
    click.echo(f"wrote {path}")


@payouts.command("record")
@click.argument("payout_id", type=int)
@click.argument("reference")
@JSON_OPTION
@with_db
def payouts_record(services, payout_id, reference, as_json):
    """Complete a payout paid by hand with its reference (a USDT transaction hash)."""
    emit(domain.as_row(_checked(domain.record_reference, _methods(services), _payout(payout_id), reference)), as_json)


@payouts.command("import-references")
@click.argument("path", type=click.File("r"))
@JSON_OPTION
@with_db
def payouts_import(services, path, as_json):
    """Record references from a CSV with payout_id and tx_hash columns."""
    completed, refused = domain.import_references(_methods(services), path.read())
    emit(
        {"completed": [p.id for p in completed], "refused": refused},
        as_json,
        "\n".join([f"completed {len(completed)} payouts"] + refused),
    )
    if refused:
        sys.exit(1)


@payouts.command("balances")
@click.argument("email")
@JSON_OPTION
@with_db
def payouts_balances(services, email, as_json):
    """An affiliate's balances per currency: pending, payable, in payout, paid."""
    user = _affiliate(email)
    rows = [
        {"currency": currency, **{key: str(value) for key, value in numbers.items()}}
        for currency, numbers in sorted(ledger.balances(user.id).items())
    ]
    emit(rows, as_json, table(rows, ["currency", "pending", "payable", "in_payout", "paid", "balance"], "no balance"))


@payouts.command("method")
@click.argument("email")
@click.argument("method")
@click.argument("fields", nargs=-1)
@JSON_OPTION
@with_db
def payouts_method(services, email, method, fields, as_json):
    """Set an affiliate's payout method: affnet payouts method EMAIL usdt network=TRC20 address=T..."""
    pairs = [field.split("=", 1) for field in fields]
    if any(len(pair) != 2 for pair in pairs):
        raise click.ClickException("give the fields as name=value")
    try:
        version, warnings = domain.set_method(
            _methods(services), _affiliate(email), method, dict(pairs), services.settings["settings.change_delay_hours"]
        )
    except SettingsError as refused:
        raise click.ClickException(str(refused)) from None
    emit({"method": method, "effective_at": version.effective_at, "warnings": warnings}, as_json)


@payouts.command("minimum")
@click.argument("email")
@click.argument("currency")
@click.argument("amount")
@JSON_OPTION
@with_db
def payouts_minimum(services, email, currency, amount, as_json):
    """Raise one affiliate's minimum in a currency (the network's value removes the raise)."""
    try:
        value, code = Decimal(amount), parse_currency(currency)
    except (InvalidOperation, ValueError) as error:
        raise click.ClickException(str(error)) from None
    user = _affiliate(email)
    _checked(domain.raise_minimum, services.settings, user, code, value)
    emit(
        {"affiliate": user.email, "currency": code, "minimum": domain.minimum_for(services.settings, user.id, code)},
        as_json,
    )


@payouts.command("credentials")
@click.argument("method")
@JSON_OPTION
@with_db
def payouts_credentials(services, method, as_json):
    """Set the operator's credentials of a method (asked for, hidden; stored encrypted)."""
    methods = _methods(services)
    found = methods.by_name.get(method)
    if found is None:
        raise click.ClickException(
            f"no payout method {method!r}; enabled: {', '.join(sorted(methods.by_name)) or 'none'}"
        )
    for field in found.credentials:
        value = click.prompt(field.label, hide_input=field.secret, default="", show_default=False, err=True).strip()
        if value:
            set_network_secret(f"{method}.{field.name}", value)
    emit({"method": method, "set": network_secret_hints(f"{method}.")}, as_json)


def register(cli):
    cli.add_command(payouts)
