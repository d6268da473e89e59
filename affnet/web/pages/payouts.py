"""Payout pages: the affiliate's (the method and its fields, balances, the
history) and the operator's (runs, review, approve, send, cancel, the
books' CSV, transfer files and hashes). The rules live in
``affnet.core.earnings.payouts``; these views only call them."""

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField
from wtforms.fields.choices import SelectChoice

from ...core import clock
from ...core.deliveries.affiliate_settings import describe_versions
from ...core.deliveries.setting_versions import SettingsError
from ...core.earnings import ledger, payouts
from ...core.storage.models import Payout, PayoutRun
from .access import found_or_404, me, role_required, services
from .forms import ConfirmForm, ImportForm, ReferenceForm
from .settings import flash_saved, setting_fields

bp = Blueprint("payouts", __name__)
affiliate_only = role_required("affiliate")
admin_only = role_required("admin")
STATE_LABELS = {
    "awaiting_approval": _l("awaiting approval"),
    "approved": _l("approved"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "completed": _l("completed"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}


def _methods() -> payouts.Methods:
    return payouts.Methods.from_plugins(services().pm)


def _method_form(methods: payouts.Methods, chosen):
    attributes = {
        "method": SelectField(
            _("Payout method"), choices=[SelectChoice(name, _(m.label)) for name, m in sorted(methods.by_name.items())]
        ),
        "save": SubmitField(_("Save")),
        **setting_fields(chosen.fields),
    }
    return type("PayoutMethodForm", (FlaskForm,), attributes)


@bp.route("/payouts", methods=["GET", "POST"])
@affiliate_only
def mine():
    methods = _methods()
    if not methods.by_name:
        return render_template("pages/affiliate/payouts.html", methods=None, **_money())
    now = clock.now()
    in_force = payouts.method_in_force(me().id, now)
    name = request.values.get("method") or (in_force[0] if in_force else sorted(methods.by_name)[0])
    chosen = found_or_404(methods.by_name.get(name))
    form = _method_form(methods, chosen)()
    form.method.data = name
    errors = {}
    if request.method == "GET" and in_force and in_force[0] == name:
        for field in chosen.fields:
            form[field.name].data = in_force[1].get(field.name, "")
    if request.method == "POST" and form.validate_on_submit():
        details = {field.name: form[field.name].data or "" for field in chosen.fields}
        delay = services().settings["settings.change_delay_hours"]
        try:
            version, warnings = payouts.set_method(methods, me(), name, details, delay, now=now)
        except SettingsError as refused:
            errors = refused.fields
        else:
            flash_saved(version, warnings, now)
            return redirect(url_for("payouts.mine", method=name))
    described = describe_versions(payouts.setting_kind(chosen), me(), None, now)
    return render_template(
        "pages/affiliate/payouts.html",
        methods=methods,
        chosen=chosen,
        form=form,
        errors=errors,
        described=described,
        delay=services().settings["settings.change_delay_hours"],
        **_money(),
    )


def _money() -> dict:
    settings = services().settings
    balances = ledger.balances(me().id)
    rows = [
        {"currency": currency, **numbers, "minimum": payouts.minimum_for(settings, me().id, currency)}
        for currency, numbers in sorted(balances.items())
    ]
    history = list(Payout.select().where(Payout.affiliate == me().id).order_by(Payout.id.desc()).limit(100))
    return {
        "balances": rows,
        "history": history,
        "states": STATE_LABELS,
        "next_run": payouts.next_run_at(settings, datetime.now()),
    }


# ---- the operator's ----------------------------------------------------------------------------------------------


def _run(week: str) -> PayoutRun:
    return found_or_404(PayoutRun.get_or_none(PayoutRun.week == week))


@bp.get("/admin/payouts")
@admin_only
def runs():
    listed = []
    for run in PayoutRun.select().order_by(PayoutRun.week.desc()).limit(60):
        made = list(run.payouts)
        listed.append(
            {
                "run": run,
                "count": len(made),
                "failed": sum(1 for p in made if p.status == "failed"),
                "waiting": sum(1 for p in made if p.status == "awaiting_approval"),
                "totals": sorted(payouts.totals(made).items()),
            }
        )
    failed = list(Payout.select().where(Payout.status == "failed").order_by(Payout.id))
    return render_template(
        "pages/admin/payouts.html",
        runs=listed,
        failed=failed,
        states=STATE_LABELS,
        action=ConfirmForm(),
        next_run=payouts.next_run_at(services().settings, datetime.now()),
        mode=services().settings["payouts.mode"],
    )


@bp.post("/admin/payouts/run")
@admin_only
def make_run():
    run, made = payouts.run_payouts(services().settings, _methods())
    flash(_("Run %(week)s: %(count)d new payouts.", week=run.week, count=len(made)))
    return redirect(url_for("payouts.run", week=run.week))


@bp.get("/admin/payouts/<week>")
@admin_only
def run(week: str):
    found = _run(week)
    made = sorted(found.payouts, key=lambda p: (p.status != "failed", p.id))
    methods = _methods()
    return render_template(
        "pages/admin/payout_run.html",
        run=found,
        payouts=made,
        totals=sorted(payouts.totals([p for p in made if p.status != "cancelled"]).items()),
        states=STATE_LABELS,
        action=ConfirmForm(),
        reference=ReferenceForm(),
        sheet=ImportForm(),
        recordable={name for name, m in methods.by_name.items() if m.check_reference},
        exportable=sorted(name for name, m in methods.by_name.items() if m.export),
    )


def _payout(payout_id: int) -> Payout:
    return found_or_404(Payout.get_or_none(Payout.id == payout_id))


def _back(payout: Payout):
    return redirect(url_for("payouts.run", week=payout.run.week) if payout.run_id else url_for("payouts.runs"))


@bp.post("/admin/payouts/<week>/approve")
@admin_only
def approve_run(week: str):
    waiting = [p.id for p in _run(week).payouts if p.status == "awaiting_approval"]
    flash(_("%(count)d payouts approved; they are sent within a minute.", count=payouts.approve(waiting)))
    return redirect(url_for("payouts.run", week=week))


@bp.post("/admin/payouts/<week>/send")
@admin_only
def send_run(week: str):
    ids = [p.id for p in _run(week).payouts]
    counts = payouts.send_approved(services(), _methods(), payout_ids=ids)
    flash(_("Sent now: %(counts)s", counts=", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "0"))
    return redirect(url_for("payouts.run", week=week))


@bp.get("/admin/payouts/<week>.csv")
@admin_only
def export(week: str):
    text = payouts.export_csv(list(_run(week).payouts.order_by(Payout.id)))
    disposition = f'attachment; filename="affnet-payouts-{week}.csv"'
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": disposition})


@bp.post("/admin/payouts/transfers/<method>")
@admin_only
def transfers(method: str):
    try:
        name, content = payouts.transfer_file(services(), _methods(), method, again=bool(request.form.get("again")))
    except payouts.PayoutError as refused:
        flash(str(refused))
        return redirect(request.referrer or url_for("payouts.runs"))
    return Response(content, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/admin/payouts/<int:payout_id>/approve")
@admin_only
def approve(payout_id: int):
    payout = _payout(payout_id)
    payouts.approve([payout.id])
    return _back(payout)


@bp.post("/admin/payouts/<int:payout_id>/cancel")
@admin_only
def cancel(payout_id: int):
    payout = _payout(payout_id)
    try:
        payouts.cancel(payout)
        flash(_("Payout %(id)d is cancelled; its amount is back in the balance.", id=payout.id))
    except payouts.PayoutError as refused:
        flash(str(refused))
    return _back(payout)


@bp.post("/admin/payouts/<int:payout_id>/reference")
@admin_only
def record(payout_id: int):
    payout = _payout(payout_id)
    form = ReferenceForm()
    if form.validate_on_submit():
        try:
            payouts.record_reference(_methods(), payout, form.reference.data)
            flash(_("Payout %(id)d is completed.", id=payout.id))
        except payouts.PayoutError as refused:
            flash(str(refused))
    else:
        abort(400)
    return _back(payout)


@bp.post("/admin/payouts/<week>/import")
@admin_only
def import_hashes(week: str):
    form = ImportForm()
    if not form.validate_on_submit() or not form.sheet.data:
        abort(400)
    text = form.sheet.data.read().decode("utf-8-sig", errors="replace")
    completed, refused = payouts.import_references(_methods(), text)
    flash(_("%(count)d payouts completed.", count=len(completed)))
    for line in refused:
        flash(line)
    return redirect(url_for("payouts.run", week=week))
