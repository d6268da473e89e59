"""The affiliate's pages: dashboard, marketplace, my offers and their links,
stats with CSV, stats API tokens.

Every query here is the logged-in affiliate's own: participations, reports
and tokens are looked up with the affiliate's id, so another affiliate's id
in a URL finds nothing (404), and another role gets 403.
"""

from datetime import date, timedelta
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...core import clock, reports
from ...core.clicks.tracking import AD_CLICK_IDS
from ...core.network import accounts, api_tokens
from ...core.storage.models import CommissionRule, Offer, Participation
from .access import found_or_404, me, role_required, services
from .charts import day_chart
from .forms import ApplyForm, ConfirmForm, TokenForm

bp = Blueprint("affiliate", __name__)
affiliate_only = role_required("affiliate")
TRACKER_PRESETS = {"keitaro": "{subid}", "binom": "{clickid}", "voluum": "{clickid}", "redtrack": "{clickid}"}
STATS_GROUPS = ("day", "offer", *reports.SUB_GROUPS, *reports.CLICK_ID_GROUPS)


def _base_url() -> str:
    return services().settings["base_url"].rstrip("/")


def _mine(ref_code: str) -> Participation:
    """The affiliate's own participation with this refCode, or 404."""
    return found_or_404(
        Participation.get_or_none((Participation.ref_code == ref_code) & (Participation.affiliate == me().id))
    )


def _marketplace_offer(slug: str) -> Offer:
    """A public, live offer, or one the affiliate takes part in; else 404."""
    offer = found_or_404(Offer.get_or_none(Offer.slug == slug))
    joined = Participation.get_or_none((Participation.offer == offer.id) & (Participation.affiliate == me().id))
    if not (offer.is_public and offer.is_active) and joined is None:
        abort(404)
    return offer


def terms(offer: Offer) -> list[dict]:
    """What each event pays, as the marketplace shows it."""
    rows = []
    for rule in CommissionRule.select().where(CommissionRule.offer == offer.id).order_by(CommissionRule.event):
        amount = f"{rule.amount.normalize():f}%" if rule.kind == "percent" else f"{rule.amount:.2f} {offer.currency}"
        rows.append({"event": rule.event, "amount": amount, "months": rule.rebill_months})
    return rows


@bp.get("/dashboard")
@affiliate_only
def dashboard():
    today = clock.now().date()
    report = reports.build_report("day", today - timedelta(days=29), today, affiliate=me().id)
    periods = []
    for label, days in ((_("Today"), 1), (_("7 days"), 7), (_("30 days"), 30)):
        total = reports.ReportRow("total", label)
        for row in report.rows[-days:]:
            total.add(row)
        periods.append(total)
    return render_template("pages/affiliate/dashboard.html", periods=periods, chart=day_chart(report.rows))


@bp.get("/marketplace")
@affiliate_only
def marketplace():
    offers = list(Offer.select().where(Offer.is_public & Offer.is_active).order_by(Offer.name))
    joined = {p.offer_id: p for p in Participation.select().where(Participation.affiliate == me().id)}
    return render_template("pages/affiliate/marketplace.html", offers=[(o, terms(o), joined.get(o.id)) for o in offers])


@bp.route("/marketplace/<slug>", methods=["GET", "POST"])
@affiliate_only
def offer(slug: str):
    found = _marketplace_offer(slug)
    joined = Participation.get_or_none((Participation.offer == found.id) & (Participation.affiliate == me().id))
    form = ApplyForm()
    if joined is None and form.validate_on_submit():
        accounts.apply(me(), found, note=form.note.data or "")
        flash(_("Your application is sent."))
        return redirect(url_for("affiliate.offer", slug=slug))
    return render_template(
        "pages/affiliate/offer.html", offer=found, terms=terms(found), joined=joined, form=form, base=_base_url()
    )


def build_link(ref_code: str, values: dict) -> str:
    """The tracking link with the builder's parameters (empty ones left out)."""
    link = f"{_base_url()}/r?ref={ref_code}"
    for name, value in values.items():
        if value:
            link += f"&{name}={quote(value, safe='{}_-.~')}"
    return link


@bp.get("/offers")
@affiliate_only
def my_offers():
    mine = list(
        Participation.select(Participation, Offer)
        .join(Offer)
        .where(Participation.affiliate == me().id)
        .order_by(Offer.name)
    )
    chosen = request.args.get("ref")
    builder = None
    if chosen:
        participation = _mine(chosen)
        preset = request.args.get("preset", "")
        values = {"clickid": request.args.get("clickid") or TRACKER_PRESETS.get(preset, "")}
        values.update({f"s{n}": request.args.get(f"s{n}", "")[:255] for n in range(1, 11)})
        values["fbclid"] = request.args.get("fbclid", "")
        ad_name = request.args.get("ad_id")
        if ad_name in AD_CLICK_IDS:
            values[ad_name] = request.args.get("ad_macro", "")
        builder = {"participation": participation, "link": build_link(participation.ref_code, values), "preset": preset}
    return render_template(
        "pages/affiliate/offers.html",
        participations=mine,
        builder=builder,
        presets=TRACKER_PRESETS,
        ad_click_ids=AD_CLICK_IDS,
        base=_base_url(),
        args=request.args,
    )


def _stats_query():
    today = clock.now().date()
    faults = {}
    days = {}
    for name, default in (("from", today - timedelta(days=6)), ("to", today)):
        raw = request.args.get(name)
        try:
            days[name] = date.fromisoformat(raw) if raw else default
        except ValueError:
            faults[name] = _("must be a date such as 2026-06-01")
            days[name] = default
    group_by = request.args.get("group_by", "day")
    if group_by not in STATS_GROUPS:
        group_by = "day"
    offer = None
    slug = request.args.get("offer")
    if slug:
        offer = (
            Offer.select()
            .join(Participation)
            .where((Offer.slug == slug) & (Participation.affiliate == me().id))
            .first()
        )
        if offer is None:
            abort(404)
    return days["from"], days["to"], group_by, offer, faults


@bp.get("/stats")
@affiliate_only
def stats():
    date_from, date_to, group_by, offer, faults = _stats_query()
    report, error = None, None
    if not faults:
        try:
            report = reports.build_report(group_by, date_from, date_to, affiliate=me().id, offer=offer)
        except reports.ReportError as refused:
            error = str(refused)
    offers = list(Offer.select().join(Participation).where(Participation.affiliate == me().id).order_by(Offer.name))
    return render_template(
        "pages/affiliate/stats.html",
        report=report,
        error=error,
        faults=faults,
        groups=STATS_GROUPS,
        offers=offers,
        chosen={"from": date_from, "to": date_to, "group_by": group_by, "offer": offer.slug if offer else ""},
    )


@bp.get("/stats.csv")
@affiliate_only
def stats_csv():
    date_from, date_to, group_by, offer, faults = _stats_query()
    if faults:
        abort(400)
    try:
        report = reports.build_report(group_by, date_from, date_to, affiliate=me().id, offer=offer)
    except reports.ReportError:
        abort(400)
    name = f"affnet-{group_by}-{date_from}-{date_to}.csv"
    return Response(
        report.as_csv(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.route("/tokens", methods=["GET", "POST"])
@affiliate_only
def tokens():
    form = TokenForm()
    made = None
    if form.validate_on_submit():
        _, made = api_tokens.create_token(me(), form.name.data.strip())
    return render_template(
        "pages/affiliate/tokens.html",
        form=form,
        made=made,
        tokens=api_tokens.list_tokens(me()),
        revoke=ConfirmForm(),
        base=_base_url(),
    ), 201 if made else 200


@bp.post("/tokens/<int:token_id>/revoke")
@affiliate_only
def revoke_token(token_id: int):
    try:
        api_tokens.revoke_token(token_id, affiliate=me())
    except api_tokens.TokenError:
        abort(404)
    flash(_("The token is revoked: it stops working at once."))
    return redirect(url_for("affiliate.tokens"))
