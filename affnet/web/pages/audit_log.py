"""The audit log as each role may read it (``affnet.core.network.audit``)."""

from flask import Blueprint, render_template
from flask_login import login_required

from ...core.network import audit
from .access import me

bp = Blueprint("audit_log", __name__)


@bp.get("/audit")
@login_required
def log():
    return render_template("pages/audit.html", entries=audit.entries_for(me()))
