"""The operator's pages: health (the operator's home), users, every offer and participation, deliveries
across the network, the network's policies and the server's settings, plugins.

The views only parse, call ``affnet.core`` and render: accounts change through
``core.network.users`` and ``two_factor``, participations through ``accounts``, policies through
``core.network.policy``, retries through ``core.deliveries.overview``; each of those records the change
in the audit log with the operator and the address as its actor.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from peewee import Case, fn
from wtforms.fields.choices import SelectChoice

from ...core import health as network_health
from ...core.deliveries import overview
from ...core.network import accounts, policy, two_factor, users as accounts_of_people
from ...core.storage.models import Delivery, Offer, Participation, User
from ...plugins.manager import plugin_report
from .access import found_or_404, me, role_required, services, shown_once
from .payouts import STATE_LABELS
from .operator_forms import (
    ORIGINS,
    PARTICIPATION_LABELS,
    POLICY_LABELS,
    ROLE_LABELS,
    USER_STATES,
    DecisionForm,
    ParticipationFilterForm,
    ResetPolicyForm,
    RoleForm,
    UserFilterForm,
    form_name,
    policy_form_class,
)

bp = Blueprint("operator", __name__)
admin_only = role_required("admin")
LISTED = 500  # rows on one page of users or participations


def _back(default: str):
    """Back to the page the form was on (its filters kept), when that is one of the operator's pages."""
    target = request.form.get("next") or ""
    if target.startswith("/admin/") and "//" not in target and "\\" not in target:
        return redirect(target)
    return redirect(default)


# ---- health ------------------------------------------------------------------------------------------------------


@bp.get("/admin")
@admin_only
def health():
    checks = {check.name: check for check in network_health.checks(services())}
    return render_template("pages/admin/health.html", checks=checks, payout_states=STATE_LABELS)


# ---- users -------------------------------------------------------------------------------------------------------


def _state(user: User) -> str:
    return "disabled" if not user.is_active else "waiting" if user.approved_at is None else "active"


@bp.get("/admin/users")
@admin_only
def users():
    filters = UserFilterForm(request.args)
    query = User.select()
    if filters.role.data in ROLE_LABELS:
        query = query.where(User.role == filters.role.data)
    state = filters.state.data
    if state == "waiting":
        query = query.where(User.approved_at.is_null() & User.is_active)
    elif state == "active":
        query = query.where(User.approved_at.is_null(False) & User.is_active)
    elif state == "disabled":
        query = query.where(~User.is_active)
    if (filters.email.data or "").strip():
        query = query.where(User.email.contains(filters.email.data.strip().lower()))
    waiting_first = Case(None, [(User.approved_at.is_null() & User.is_active, 0)], 1)
    listed = list(query.order_by(waiting_first, User.id).limit(LISTED + 1))
    return render_template(
        "pages/admin/users.html",
        filters=filters,
        users=listed[:LISTED],
        more=len(listed) > LISTED,
        state_of=_state,
        states=USER_STATES,
        roles=ROLE_LABELS,
        two_factor_on=lambda user: two_factor.is_enabled(user) or two_factor.is_pending(user),
        here=request.full_path.rstrip("?"),
    )


def _user(user_id: int) -> User:
    return found_or_404(User.get_or_none(User.id == user_id))


@bp.post("/admin/users/<int:user_id>/approve")
@admin_only
def approve_user(user_id: int):
    user = accounts_of_people.approve(_user(user_id))
    flash(_("%(email)s is approved and can log in.", email=user.email))
    return _back(url_for("operator.users"))


@bp.post("/admin/users/<int:user_id>/deactivate")
@admin_only
def deactivate_user(user_id: int):
    user = _user(user_id)
    if user.id == me().id:
        flash(_("You cannot deactivate your own account."))
    else:
        accounts_of_people.set_active(user, False)
        flash(_("%(email)s is deactivated: every session of the account has ended.", email=user.email))
    return _back(url_for("operator.users"))


@bp.post("/admin/users/<int:user_id>/reactivate")
@admin_only
def reactivate_user(user_id: int):
    user = accounts_of_people.set_active(_user(user_id), True)
    flash(_("%(email)s can log in again.", email=user.email))
    return _back(url_for("operator.users"))


@bp.post("/admin/users/<int:user_id>/role")
@admin_only
def change_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user(user_id)
    if user.id == me().id:
        flash(_("You cannot change your own role: another operator can."))
    elif form.role.data != user.role:
        accounts_of_people.set_role(user, form.role.data)
        flash(
            _(
                "%(email)s is now: %(role)s. Their sessions have ended; the new pages are theirs at the next log-in.",
                email=user.email,
                role=ROLE_LABELS[user.role],
            )
        )
    return _back(url_for("operator.users"))


@bp.post("/admin/users/<int:user_id>/reset-link")
@admin_only
def reset_link(user_id: int):
    """A one-time link to set a new password, on this response only: never in a flash or the session."""
    user = _user(user_id)
    token = accounts_of_people.reset_link_token(user)
    link = services().settings["base_url"].rstrip("/") + url_for("auth.reset", token=token)
    page = render_template(
        "pages/admin/reset_link.html",
        user=user,
        link=link,
        expires_at=accounts_of_people.reset_for(token).expires_at,
        hours=accounts_of_people.RESET_HOURS,
    )
    return shown_once(page)


@bp.post("/admin/users/<int:user_id>/two-factor-reset")
@admin_only
def reset_two_factor(user_id: int):
    user = _user(user_id)
    two_factor.reset(user)
    flash(_("Two-factor log-in of %(email)s is off and every session of the account has ended.", email=user.email))
    return _back(url_for("operator.users"))


# ---- offers and participations -----------------------------------------------------------------------------------


@bp.get("/admin/offers")
@admin_only
def offers():
    listed = list(Offer.select(Offer, User).join(User).order_by(Offer.name, Offer.id))
    counts: dict[int, dict[str, int]] = {}
    for offer_id, status, count in (
        Participation.select(Participation.offer, Participation.status, fn.COUNT(Participation.id))
        .group_by(Participation.offer, Participation.status)
        .tuples()
    ):
        counts.setdefault(offer_id, {})[status] = count
    return render_template("pages/admin/offers.html", offers=listed, counts=counts, labels=PARTICIPATION_LABELS)


@bp.get("/admin/participations")
@admin_only
def participations():
    filters = ParticipationFilterForm(request.args)
    every_offer = list(Offer.select(Offer.slug, Offer.name).order_by(Offer.name))
    filters.offer.choices = [SelectChoice("", _("Every offer"))] + [
        SelectChoice(offer.slug, offer.name) for offer in every_offer
    ]
    query = Participation.select(Participation, Offer, User).join(Offer).switch(Participation).join(User)
    if filters.status.data in PARTICIPATION_LABELS:
        query = query.where(Participation.status == filters.status.data)
    if filters.offer.data:
        query = query.where(Offer.slug == filters.offer.data)
    pending_first = Case(None, [(Participation.status == "pending", 0)], 1)
    listed = list(query.order_by(pending_first, Participation.id.desc()).limit(LISTED + 1))
    return render_template(
        "pages/admin/participations.html",
        filters=filters,
        participations=listed[:LISTED],
        more=len(listed) > LISTED,
        labels=PARTICIPATION_LABELS,
        here=request.full_path.rstrip("?"),
    )


@bp.post("/admin/participations/<int:participation_id>/status")
@admin_only
def decide(participation_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    found = found_or_404(Participation.get_or_none(Participation.id == participation_id))
    note = (form.note.data or "").strip()
    was = found.status
    accounts.set_participation_status(found, form.status.data, note or None)
    status = PARTICIPATION_LABELS[found.status]
    if was == "paused" and found.status == "approved":
        flash(_("%(ref)s is resumed: its link works again.", ref=found.ref_code))
    else:
        flash(_("%(ref)s is now: %(status)s.", ref=found.ref_code, status=status))
    return _back(url_for("operator.participations"))


# ---- deliveries --------------------------------------------------------------------------------------------------


@bp.get("/admin/deliveries")
@admin_only
def deliveries():
    return render_template(
        "pages/admin/deliveries.html",
        hosts=overview.failing_hosts(),
        queue=overview.queue(),
    )


@bp.get("/admin/deliveries/<host>")
@admin_only
def host_deliveries(host: str):
    return render_template(
        "pages/admin/deliveries_host.html",
        host=host,
        rows=overview.deliveries_of_host(host),
    )


@bp.post("/admin/deliveries/<host>/retry")
@admin_only
def retry_host(host: str):
    count = overview.retry_host(host)
    flash(_("%(count)d deliveries to %(host)s are due now: the worker sends them soon.", count=count, host=host))
    return _back(url_for("operator.deliveries"))


@bp.post("/admin/deliveries/<int:delivery_id>/retry")
@admin_only
def retry_delivery(delivery_id: int):
    found = found_or_404(Delivery.get_or_none(Delivery.id == delivery_id))
    if overview.retry_one(found):
        flash(_("Delivery %(id)d is due now: the worker sends it at its next round.", id=found.id))
    else:
        flash(_("Delivery %(id)d was not retried: a worker is sending it now, or it was sent.", id=found.id))
    return _back(url_for("operator.deliveries"))


# ---- network settings --------------------------------------------------------------------------------------------


def _policy_page(form, errors=None, status=200):
    settings = services().settings
    return render_template(
        "pages/admin/settings.html",
        form=form,
        errors=errors or {},
        policies=policy.described(settings),
        server=policy.server_settings(settings),
        origins=ORIGINS,
        labels=POLICY_LABELS,
        form_name=form_name,
        source=settings.source,
        cache_seconds=settings["cache_seconds"],
    ), status


@bp.route("/admin/settings", methods=["GET", "POST"])
@admin_only
def network_settings():
    settings = services().settings
    form = policy_form_class()()
    if request.method == "GET":
        for key in policy.POLICY_KEYS:
            form[form_name(key)].data = policy.as_text(key, settings[key])
        return _policy_page(form)
    if not form.validate_on_submit():
        return _policy_page(form, status=400)
    texts = {key: form[form_name(key)].data or "" for key in policy.POLICY_KEYS}
    try:
        changed = policy.save(settings, texts, user=me())
    except policy.PolicyError as refused:
        return _policy_page(form, errors=refused.fields, status=422)
    if changed:
        flash(_("Saved: %(keys)s. In force now, over the config file's values.", keys=", ".join(changed)))
    else:
        flash(_("Nothing changed."))
    return redirect(url_for("operator.network_settings"))


@bp.post("/admin/settings/reset")
@admin_only
def reset_setting():
    form = ResetPolicyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = policy.reset(services().settings, form.key.data)
    except policy.PolicyError:
        abort(400)
    if done:
        flash(_("%(key)s is back to the config file's value.", key=form.key.data))
    return redirect(url_for("operator.network_settings"))


# ---- plugins -----------------------------------------------------------------------------------------------------


@bp.get("/admin/plugins")
@admin_only
def plugins():
    rows, missing = plugin_report(services().settings["plugins.enabled"])
    return render_template("pages/admin/plugins.html", plugins=rows, missing=missing)
