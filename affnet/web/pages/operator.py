"""The operator's pages: users, every offer and participation, deliveries
across the network, the network's policies, plugins, health."""

from flask import Blueprint, render_template

from .access import role_required

bp = Blueprint("operator", __name__)
admin_only = role_required("admin")


@bp.get("/admin")
@admin_only
def health():
    return render_template("pages/admin/health.html")
