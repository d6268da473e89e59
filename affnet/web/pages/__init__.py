"""The built-in pages: server-rendered Flask and Jinja, in English and Spanish.

Sessions are Flask-Login's, in Flask's signed cookie (HttpOnly, SameSite=Lax,
Secure when ``base_url`` is https or the request came over HTTPS: see
``affnet.app.PageSessions``); the session holds the account's id and
its ``session_version``, so a new password or a disabled account ends every
session made before. Every form carries a CSRF token (Flask-WTF) and every
POST to a page is refused without a valid one. Strings go through
Flask-Babel; the language is the account's choice, else the one picked with
``?lang=``, else the browser's. Pages are outside the hot paths: ``/r`` and
the ingest API never reach this package.
"""

from pathlib import Path

from flask import has_request_context, redirect, request, session, url_for
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from ...core.earnings.money import format_amount
from ...core.network import audit
from ...core.storage.models import User
from .access import Account, home_of

LANGUAGES = {"en": "English", "es": "Español"}
TRANSLATIONS = Path(__file__).resolve().parent.parent.parent / "translations"

csrf = CSRFProtect()
login_manager = LoginManager()


@login_manager.user_loader
def _load(session_id: str):
    user_id, _, version = session_id.partition(".")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = User.get_or_none(User.id == int(user_id))
    if user is None or user.session_version != int(version) or not user.is_active or user.approved_at is None:
        return None
    return Account(user)


def _locale() -> str:
    if current_user.is_authenticated and current_user.user.language in LANGUAGES:
        return current_user.user.language
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def _web_actor() -> audit.Actor | None:
    """Who makes a change during a request: the logged-in account (or a visitor) and its address."""
    if not has_request_context():
        return None
    user = current_user.user if current_user.is_authenticated else None
    return audit.Actor(user=user, label=user.email if user else "visitor", ip=request.remote_addr or "")


def init_app(app, settings) -> None:
    from . import affiliate, audit_log, auth, integrations, operator, owner, payouts, settings as delivery_settings

    audit.install_resolver(_web_actor)

    app.config["SESSION_COOKIE_SECURE"] = settings["base_url"].startswith("https://")
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked for the pages only: plugin webhooks carry no token
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # a token lives as long as its session
    plugin_catalogs = app.extensions["affnet"].pm.hook.translation_directories()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        [str(TRANSLATIONS), *(str(folder) for folders in plugin_catalogs for folder in folders)]
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    Babel(app, locale_selector=_locale)
    app.extensions["affnet_limits"] = auth.Limits(settings, app.extensions["affnet"].limits)
    blueprints = (
        auth.bp,
        affiliate.bp,
        delivery_settings.bp,
        payouts.bp,
        owner.bp,
        operator.bp,
        audit_log.bp,
        integrations.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    page_blueprints = {blueprint.name for blueprint in blueprints}

    @app.before_request
    def _protect():
        if request.blueprint in page_blueprints and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    @app.context_processor
    def _page_globals():
        kinds = app.extensions["affnet"].registry.kinds
        return {
            "languages": LANGUAGES,
            "current_language": _locale(),
            "delivery_kinds": lambda: [kinds[name] for name in sorted(kinds)],
            "money": format_amount,  # money(amount, currency): the currency's decimals, never a float
        }

    @app.get("/")
    def index():
        if current_user.is_authenticated:
            return redirect(home_of(current_user.user))
        return redirect(url_for("auth.login"))

    @app.before_request
    def _language_switch():
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.method == "GET" and not request.path.startswith(("/api/", "/hooks/")):
            session["lang"] = chosen

    @app.errorhandler(403)
    def _forbidden(_error):
        from flask import render_template

        return render_template("pages/error.html", code=403), 403
