"""The audit log as each role may read it (``affnet.core.network.audit``): the
operator every entry; a product owner those of their offers and about
themselves; an affiliate those about themselves (their settings' history,
their applications, their payouts). Only the operator sees the operator's
address; to others the operator is "the network"."""

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from ...core.network import audit
from ...core.storage.models import Offer
from .access import me

bp = Blueprint("audit_log", __name__)
PAGE = 100

# What each kind of entry is called on the page (the action's first part).
SUBJECTS = {
    "offer": _l("Offers"),
    "commission": _l("Commissions"),
    "participation": _l("Applications"),
    "setting": _l("Postback and pixel settings"),
    "token": _l("API tokens"),
    "user": _l("Accounts"),
    "two_factor": _l("Two-factor log-in"),
    "payout": _l("Payouts"),
    "network": _l("Network settings"),
    "delivery": _l("Deliveries"),
    "conversion": _l("Test conversions"),
}


def shown_entry(entry, viewer) -> dict:
    """An entry as ``viewer`` may see it."""
    own = entry.actor_id == viewer.id
    by_operator = entry.actor is not None and entry.actor.role == "admin"
    if viewer.role == "admin" or own or not by_operator:
        who = entry.actor_label
    else:
        who = _l("the network")
    return {
        "at": entry.at,
        "who": who,
        "ip": entry.ip if viewer.role == "admin" or own else "",
        "action": entry.action,
        "subject": entry.subject,
        "changes": entry.changes or {},
    }


@bp.get("/audit")
@login_required
def log():
    viewer = me()
    kind = request.args.get("kind", "")
    if kind and kind not in SUBJECTS:
        kind = ""
    offer = None
    if request.args.get("offer"):
        offer = Offer.get_or_none(Offer.slug == request.args["offer"])
        if offer is None or (viewer.role != "admin" and offer.advertiser_id != viewer.id):
            abort(404)
    before = request.args.get("before", type=int)
    entries = audit.entries_for(
        viewer, action_prefix=f"{kind}." if kind else "", offer=offer, limit=PAGE + 1, before=before
    )
    older = entries[PAGE].id if len(entries) > PAGE else None
    offers = []
    if viewer.role in ("admin", "advertiser"):
        query = Offer.select().order_by(Offer.name)
        offers = list(query if viewer.role == "admin" else query.where(Offer.advertiser == viewer.id))
    return render_template(
        "pages/audit.html",
        entries=[shown_entry(entry, viewer) for entry in entries[:PAGE]],
        subjects=SUBJECTS,
        kind=kind,
        offer=offer,
        offers=offers,
        older=older,
    )
