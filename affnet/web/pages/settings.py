"""The affiliate's delivery settings (a postback URL, a pixel: every kind a
plugin declares), their test button, and the delivery log with resend.

A setting is saved as a new version that takes effect after
``settings.change_delay_hours`` (the 24-hour rule; the first one at once);
the page shows the version in force and the pending one with its time. A
secret field is write-only: left empty, it keeps the saved value, and only
its last four characters are ever shown.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ...core import clock
from ...core.deliveries import outbox, setting_versions
from ...core.deliveries.affiliate_settings import (
    SettingsChoiceError,
    delivery_row,
    describe_versions,
    sample_event,
    test_values,
    with_preset,
)
from ...core.storage.models import Delivery, Participation
from .access import me, role_required, services

bp = Blueprint("delivery_settings", __name__)
affiliate_only = role_required("affiliate")


def _kind(name: str):
    kind = services().registry.kinds.get(name)
    if kind is None:
        abort(404)
    return kind


def _scope(kind) -> Participation | None:
    ref = request.args.get("ref")
    if not ref:
        return None
    if kind.scope != "participation":
        abort(404)
    found = Participation.get_or_none((Participation.ref_code == ref) & (Participation.affiliate == me().id))
    if found is None:
        abort(404)
    return found


def setting_fields(fields) -> dict:
    """Form fields for a plugin's ``SettingField``s: labelled in the page's language, secrets write-only."""
    attributes = {}
    for field in fields:
        label = _(field.label) + ("" if field.required else f" ({_('optional')})")
        make = PasswordField if field.secret else StringField
        attributes[field.name] = make(label, validators=[Optional(), Length(max=2000)], description=field.help)
    return attributes


def _form_class(kind):
    """A form with the kind's fields (secrets write-only), its presets and an off switch."""
    attributes = setting_fields(kind.fields)
    if kind.presets:
        choices = [SelectChoice("", _("None"))] + [SelectChoice(name, name.capitalize()) for name in kind.presets]
        attributes["preset"] = SelectField(_("Start from a preset"), choices=choices, validators=[Optional()])
    attributes["off"] = BooleanField(_("Send nothing (turn this off)"))
    attributes["save"] = SubmitField(_("Save"))
    attributes["send_test"] = SubmitField(_("Send a test"))
    return type(f"{kind.name}_form", (FlaskForm,), attributes)


def _given(kind, form) -> dict:
    """The values typed, less empty secrets (those keep their saved value)."""
    given = {}
    for field in kind.fields:
        value = (form[field.name].data or "").strip()
        if value or not field.secret:
            given[field.name] = value
    return given


@bp.route("/settings/<kind_name>", methods=["GET", "POST"])
@affiliate_only
def edit(kind_name: str):
    kind = _kind(kind_name)
    participation = _scope(kind)
    form = _form_class(kind)()
    now = clock.now()
    described = describe_versions(kind, me(), participation, now)
    newest = max(described["history"], key=lambda row: row["saved_at"], default=None)
    if request.method == "GET" and newest:
        for field in kind.fields:
            if not field.secret:
                form[field.name].data = newest["values"].get(field.name, "")
    errors, result = {}, None
    if form.validate_on_submit():
        given = _given(kind, form)
        if form.send_test.data:
            result = _test(kind, participation, given)
        else:
            try:
                values = with_preset(kind, form.data.get("preset") or None, _kept(kind, participation, given))
                version, warnings = setting_versions.save(
                    kind,
                    me(),
                    values,
                    participation=participation,
                    enabled=not form.off.data,
                    delay_hours=services().settings["settings.change_delay_hours"],
                    now=now,
                )
            except (SettingsChoiceError, setting_versions.SettingsError) as refused:
                errors = getattr(refused, "fields", None) or {"": str(refused)}
            else:
                flash_saved(version, warnings, now)
                return redirect(request.full_path.rstrip("?"))
    offers = list(
        Participation.select().where((Participation.affiliate == me().id) & (Participation.status == "approved"))
    )
    return render_template(
        "pages/affiliate/settings.html",
        kind=kind,
        form=form,
        described=described,
        participation=participation,
        errors=errors,
        result=result,
        offers=offers,
        delay=services().settings["settings.change_delay_hours"],
    )


def flash_saved(version, warnings: list[str], now) -> None:
    """Say what a saved setting version does: in force now, or when (the 24-hour rule); its warnings first."""
    for warning in warnings:
        flash(_(warning))
    if version.effective_at <= now:
        flash(_("Saved. It is in force now."))
    else:
        flash(
            _(
                "Saved. It takes effect at %(time)s UTC; until then the version in force stays.",
                time=version.effective_at.strftime("%Y-%m-%d %H:%M"),
            )
        )


def _kept(kind, participation, given: dict) -> dict:
    """``given`` over the newest saved values: a secret left empty keeps its saved value."""
    try:
        merged, _ = test_values(kind, me(), participation, given)
    except SettingsChoiceError:
        merged = given
    return {name: value for name, value in merged.items() if value}


def _test(kind, participation, given: dict) -> dict:
    try:
        values, setting_id = test_values(kind, me(), participation, given)
        setting_versions.validate(kind, values)
        info = sample_event(me(), participation, "sale", "affnet-test", clock.now())
        app = services()
        delivery = outbox.send_test(
            app.pm, app.registry, app.plugin_config, kind.name, info, values, setting_id=setting_id
        )
    except (SettingsChoiceError, setting_versions.SettingsError, ValueError) as refused:
        fields = getattr(refused, "fields", None)
        return {"error": "; ".join(f"{name} {why}" for name, why in fields.items()) if fields else str(refused)}
    return delivery_row(delivery, outbox.attempts_of([delivery.id])[delivery.id])


def _own_delivery(delivery_id: int) -> Delivery:
    """A delivery of the affiliate's events or test sends, or 404."""
    found = next(iter(outbox.deliveries_for_affiliate(me().id, limit=1, delivery_id=delivery_id)), None)
    if found is None:
        abort(404)
    return found


@bp.get("/deliveries")
@affiliate_only
def log():
    status = request.args.get("status") if request.args.get("status") in ("pending", "sent", "failed") else None
    found = outbox.deliveries_for_affiliate(me().id, status, limit=100)
    attempts = outbox.attempts_of([delivery.id for delivery in found])
    rows = [delivery_row(delivery, attempts[delivery.id]) for delivery in found]
    return render_template("pages/affiliate/deliveries.html", rows=rows, status=status, resend=FlaskForm())


@bp.post("/deliveries/<int:delivery_id>/resend")
@affiliate_only
def resend(delivery_id: int):
    outbox.resend(_own_delivery(delivery_id))
    flash(_("It will be sent again within a minute."))
    return redirect(url_for("delivery_settings.log"))
