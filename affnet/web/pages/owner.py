"""The product owner's pages: offers and their rules, the offer key, applications, conversions (with test
conversions), the affiliates on an offer, and links to the offer's integrations.

An owner reaches only their own offers: every page looks the offer up with ``owned_offer`` (another
owner's slug finds nothing: 404). The operator may open any offer's pages and make an offer for any owner.
The offer key is shown once, in the answer to the POST that made it, never through the session (a signed,
not encrypted, cookie) or a later page.
"""

import re
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from ...core import clock, reports
from ...core.events import conversions
from ...core.events.ingest import IngestError
from ...core.network import accounts
from ...core.storage.models import EVENT_KINDS, Offer, Participation, User
from . import integrations
from .access import me, owned_offer, role_required, services, shown_once
from .forms import ConfirmForm
from .owner_forms import RULE_EVENTS, DecisionForm, NewOfferForm, OfferForm, TestConversionForm

bp = Blueprint("owner", __name__)
owner_only = role_required("advertiser", "admin")
RECENT_DAYS = 30


def _is_operator() -> bool:
    return me().role == "admin"


@bp.get("/owner/offers")
@owner_only
def offers():
    query = Offer.select(Offer, User).join(User, on=(Offer.advertiser == User.id)).order_by(Offer.name)
    if not _is_operator():
        query = query.where(Offer.advertiser == me().id)
    today = clock.now().date()
    report = reports.build_report(
        "offer", today - timedelta(days=RECENT_DAYS - 1), today, advertiser=None if _is_operator() else me().id
    )
    return render_template(
        "pages/owner/offers.html",
        offers=list(query),
        numbers={row.key: row for row in report.rows},
        days=RECENT_DAYS,
        operator=_is_operator(),
    )


def _offer_fields(form: OfferForm) -> dict:
    return {
        "name": form.name.data.strip(),
        "description": form.description.data or "",
        "landing_url": form.landing_url.data.strip(),
        "currency": form.currency.data,
        "cookie_days": form.cookie_days.data,
        "hold_days": form.hold_days.data,
        "approval": form.approval.data,
        "public": form.is_public.data,
    }


@bp.route("/owner/offers/new", methods=["GET", "POST"])
@owner_only
def new_offer():
    form = NewOfferForm()
    if _is_operator():
        owners = User.select().where(User.role.in_(("advertiser", "admin")) & User.is_active).order_by(User.email)
        form.owner.choices = [(user.id, user.email) for user in owners]
        if request.method == "GET":
            form.owner.data = me().id
    else:
        del form.owner
    errors = []
    if form.validate_on_submit() and (rules := form.rule_specs()) is not None:
        owner = User.get_by_id(form.owner.data) if _is_operator() else me()
        fields = _offer_fields(form)
        try:
            made, key = accounts.create_offer(
                owner,
                fields.pop("name"),
                fields.pop("landing_url"),
                rules=[rule for rule in rules.values() if rule is not None],
                **fields,
            )
        except accounts.AccountError as refused:
            errors.append(str(refused))
        else:
            page = render_template("pages/owner/key.html", offer=made, key=key, made=True)
            return shown_once(page, 201)
    return render_template("pages/owner/new.html", form=form, errors=errors, events=RULE_EVENTS)


@bp.route("/owner/offers/<slug>", methods=["GET", "POST"])
@owner_only
def offer(slug: str):
    found = owned_offer(slug)
    form = OfferForm()
    if request.method == "GET":
        form.fill(found)
    errors = []
    if form.validate_on_submit() and (rules := form.rule_specs()) is not None:
        try:
            accounts.change_offer(found, rules, **_offer_fields(form))
        except accounts.AccountError as refused:
            errors.append(str(refused))
            found = owned_offer(slug)  # as stored: the refused change was made on the object only
        else:
            flash(_("Saved."))
            return redirect(url_for("owner.offer", slug=found.slug))
    return render_template(
        "pages/owner/offer.html",
        offer=found,
        form=form,
        errors=errors,
        events=RULE_EVENTS,
        has_events=accounts.has_events(found),
        integrations=integrations.available(found),
        action=ConfirmForm(),
    )


@bp.post("/owner/offers/<slug>/pause")
@owner_only
def pause(slug: str):
    found = owned_offer(slug)
    accounts.set_offer_active(found, False)
    flash(_("The offer is paused: its links send visitors to the network's fallback page."))
    return redirect(url_for("owner.offer", slug=slug))


@bp.post("/owner/offers/<slug>/resume")
@owner_only
def resume(slug: str):
    found = owned_offer(slug)
    accounts.set_offer_active(found, True)
    flash(_("The offer is live again: its links go to the landing page."))
    return redirect(url_for("owner.offer", slug=slug))


@bp.post("/owner/offers/<slug>/key")
@owner_only
def rotate_key(slug: str):
    found = owned_offer(slug)
    key = accounts.rotate_offer_key(found)
    page = render_template(
        "pages/owner/key.html", offer=found, key=key, made=False, seconds=services().settings["cache_seconds"]
    )
    return shown_once(page)


# ---- applications ---------------------------------------------------------------------------------------------


@bp.get("/owner/offers/<slug>/applications")
@owner_only
def applications(slug: str):
    found = owned_offer(slug)
    rows = list(
        Participation.select(Participation, User)
        .join(User, on=(Participation.affiliate == User.id))
        .where(Participation.offer == found.id)
        .order_by(Participation.created_at.desc(), Participation.id.desc())
    )
    rows.sort(key=lambda p: p.status != "pending")  # stable: pending first, each part newest first
    return render_template("pages/owner/applications.html", offer=found, rows=rows)


@bp.post("/owner/offers/<slug>/applications/<int:participation_id>")
@owner_only
def decide(slug: str, participation_id: int):
    found = owned_offer(slug)
    participation = Participation.get_or_none(
        (Participation.id == participation_id) & (Participation.offer == found.id)
    )
    if participation is None:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.set_participation_status(participation, form.status.data, note=form.note.data or "")
    flash(
        _(
            "%(email)s: %(status)s. The affiliate sees it on their offers page.",
            email=participation.affiliate.email,
            status=_(form.status.data),
        )
    )
    return redirect(url_for("owner.applications", slug=slug))


# ---- conversions ----------------------------------------------------------------------------------------------


def _day(name: str, faults: dict) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        faults[name] = _("must be a date such as 2026-06-01")
        return None


def _bound(day: date | None, name: str, which: int, faults: dict):
    """The start (``which`` 0) or end (1) of a UTC day, or None."""
    if day is None:
        return None
    try:
        return reports.local_day_bounds(day, day, reports.zone("UTC"))[which]
    except reports.ReportError:
        faults[name] = _("must be a date such as 2026-06-01")
        return None


def _payment_id(text: str, faults: dict) -> str | None:
    text = text.strip()
    if re.search(r"[\x00-\x1f\x7f]", text) or len(text) > 255:  # no id has them, and PostgreSQL refuses a NUL
        faults["payment"] = _("is not a payment id")
        return None
    return text or None


def _conversion_filter(offer: Offer) -> tuple[conversions.ConversionFilter, dict, dict]:
    """The filter the page's query asks for, what it chose (for the form) and its faults (ignored filters)."""
    faults: dict = {}
    chosen = {name: request.args.get(name, "") for name in ("from", "to", "kind", "affiliate", "attributed", "payment")}
    chosen["tests"] = request.args.get("tests", "shown")
    start, end = _bound(_day("from", faults), "from", 0, faults), _bound(_day("to", faults), "to", 1, faults)
    kind = chosen["kind"] if chosen["kind"] in EVENT_KINDS else None
    affiliate = int(chosen["affiliate"]) if re.fullmatch(r"[0-9]{1,18}", chosen["affiliate"]) else None
    attributed = {"yes": True, "no": False}.get(chosen["attributed"])
    tests = chosen["tests"] if chosen["tests"] in conversions.TEST_CHOICES else "shown"
    selection = conversions.ConversionFilter(
        offer.id,
        start=start,
        end=end,
        kind=kind,
        affiliate_id=affiliate,
        attributed=attributed,
        tests=tests,
        payment=_payment_id(chosen["payment"], faults),
    )
    return selection, chosen, faults


def _affiliates_of(offer: Offer) -> list[Participation]:
    return list(
        Participation.select(Participation, User)
        .join(User, on=(Participation.affiliate == User.id))
        .where(Participation.offer == offer.id)
        .order_by(User.email)
    )


def _test_form(offer: Offer, participations: list[Participation]) -> TestConversionForm:
    form = TestConversionForm()
    form.ref_code.choices = [("", _("Nobody (unattributed)"))] + [
        (p.ref_code, f"{p.affiliate.email} ({p.ref_code})") for p in participations
    ]
    return form


@bp.get("/owner/offers/<slug>/conversions")
@owner_only
def conversions_page(slug: str):
    found = owned_offer(slug)
    selection, chosen, faults = _conversion_filter(found)
    after = None
    if request.args.get("after"):
        try:
            after = reports.Cursor.decode(request.args["after"])
        except reports.ReportError:
            faults["after"] = _("is not a page of this list")
    rows, following = conversions.page(selection, after)
    participations = _affiliates_of(found)
    query = {name: value for name, value in request.args.items() if name != "after"}
    return render_template(
        "pages/owner/conversions.html",
        offer=found,
        rows=rows,
        chosen=chosen,
        faults=faults,
        kinds=EVENT_KINDS,
        participations=participations,
        query=query,
        next_page=url_for("owner.conversions_page", slug=slug, **query, after=following.encode())
        if following
        else None,
        test_form=_test_form(found, participations),
    )


@bp.get("/owner/offers/<slug>/conversions.csv")
@owner_only
def conversions_csv(slug: str):
    found = owned_offer(slug)
    selection, _chosen, faults = _conversion_filter(found)
    if faults:
        abort(400)
    name = f"affnet-{found.slug}-conversions-{clock.now():%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(conversions.csv_chunks(selection)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/owner/offers/<slug>/conversions/test")
@owner_only
def test_conversion(slug: str):
    found = owned_offer(slug)
    participations = _affiliates_of(found)
    form = _test_form(found, participations)
    if not form.validate_on_submit():
        for field in form:
            for fault in field.errors:
                flash(f"{field.label.text}: {fault}")
        return redirect(url_for("owner.conversions_page", slug=slug))
    chosen = next((p for p in participations if p.ref_code == form.ref_code.data), None)
    amount = (form.gross_amount.data or "").strip().replace(",", ".")
    try:
        outcome = conversions.record_test(
            services().recorder,
            found,
            form.event.data,
            amount or None,
            participation=chosen,
            payment_id=(form.external_payment_id.data or "").strip() or None,
        )
    except IngestError as invalid:
        flash(
            _(
                "The test conversion was refused: %(why)s",
                why="; ".join(f"{k} {v}" for k, v in invalid.fields.items()) or str(invalid),
            )
        )
        return redirect(url_for("owner.conversions_page", slug=slug))
    body = outcome.body
    message = _(
        "Test conversion %(txid)s: %(event)s, commission %(payout)s %(currency)s. It is marked as a test: never "
        "booked, sent or paid.",
        txid=body["txid"],
        event=body["event"],
        payout=body["payout"],
        currency=body["currency"],
    )
    if body["duplicate"]:
        message = _("A test with this payment id was recorded before: %(message)s", message=message)
    flash(message)
    return redirect(url_for("owner.conversions_page", slug=slug, tests="only"))


# ---- affiliates -----------------------------------------------------------------------------------------------


@bp.get("/owner/offers/<slug>/affiliates")
@owner_only
def affiliates(slug: str):
    found = owned_offer(slug)
    today = clock.now().date()
    faults: dict = {}
    first = _day("from", faults) or today - timedelta(days=RECENT_DAYS - 1)
    last = _day("to", faults) or today
    report, error = None, None
    try:
        report = reports.build_report("affiliate", first, last, offer=found)
    except reports.ReportError as refused:
        error = str(refused)
    numbers = {row.key: row for row in report.rows} if report else {}
    participations = _affiliates_of(found)
    return render_template(
        "pages/owner/affiliates.html",
        offer=found,
        rows=[(p, numbers.get(p.affiliate.email)) for p in participations],
        total=report.total if report else None,
        chosen={"from": first, "to": last},
        faults=faults,
        error=error,
    )
