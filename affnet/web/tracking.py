"""``GET /r``: record a click and redirect to the landing page (SPEC section 1)."""
from flask import Blueprint, current_app, g, redirect, render_template, request

from ..core import tracking

bp = Blueprint("tracking", __name__)


@bp.route("/r", methods=["GET", "HEAD"])
def track():
    services = current_app.extensions["affnet"]
    settings = services.settings
    route = tracking.find_route(request.args.get("ref", ""), settings["tracking.cache_seconds"])
    if route is None:
        fallback = settings["tracking.fallback_url"]
        if fallback:
            return redirect(fallback, 302)
        return render_template("404.html"), 404
    cookie = tracking.cookie_name(route)
    click = tracking.record_click(
        route, request.args, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"),
        referer=request.headers.get("Referer"), method=request.method, has_cookie=cookie in request.cookies)
    g.click_id = click["click_id"]
    response = redirect(tracking.landing_url_with_click(route.landing_url, click["click_id"]), 302)
    secure = {"always": True, "never": False}.get(settings["tracking.cookie_secure"], request.is_secure)
    response.set_cookie(cookie, click["click_id"], max_age=route.cookie_days * 86400, path="/",
                        httponly=True, samesite="Lax", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer-when-downgrade"
    return response


def init_app(app):
    app.register_blueprint(bp)
