"""The product owner's pages: offers and their rules, the offer key, the
Stripe set-up, applications, conversions, the affiliates on an offer.

An owner reaches only their own offers: every page looks the offer up with
the owner's id (another owner's slug finds nothing: 404). The operator may
open any offer's pages.
"""

from flask import Blueprint, render_template

from .access import role_required

bp = Blueprint("owner", __name__)
owner_only = role_required("advertiser", "admin")


@bp.get("/owner/offers")
@owner_only
def offers():
    return render_template("pages/owner/offers.html")
