"""create_app(settings): the Flask application factory.

Nothing connects at import time. The app keeps its services in
``app.extensions["affnet"]`` (an ``Services``): the settings, the plugin
manager, the delivery kinds and the event recorder.
"""

from dataclasses import dataclass, field

from flask import Flask, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings, load_settings
from .core.storage import cache
from .core.deliveries import outbox
from .core.network import policy
from .core.storage.db import DATABASE_ERRORS, db, open_database
from .core.events.ingest import Recorder
from .core.storage.secrets import keyring
from .core.clicks.spool import ClickSpool
from .core.clicks.click_limit import ClickLimit
from .core.storage.rate_limits import RateLimits
from .instance import load_flask_secret
from .logs import access_writer, configure_logging, log_text, shown_path
from .plugins.manager import check_plugin_config, get_plugin_manager, mount_routes
from .web import api, tracking
from .web import openapi, pages, security_headers, stats_api


class PageSessions(SecureCookieSessionInterface):
    """Sessions are for the pages: an API call (authenticated by its key or
    token on every request) never reads or sets a session cookie.

    The cookie is HttpOnly and SameSite=Lax, and ``Secure`` when the request
    came over HTTPS (decided per request: behind a proxy, its
    ``X-Forwarded-Proto``, trusted only with ``behind_proxy``) or always when
    ``base_url`` is https."""

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


@dataclass
class Services:
    settings: Settings
    pm: object
    registry: outbox.KindRegistry
    recorder: Recorder
    spool: ClickSpool
    limits: RateLimits
    plugin_sections: dict = field(default_factory=dict)  # declared sections, checked, defaults filled

    def plugin_config(self, plugin_name: str) -> dict:
        """A plugin's ``[plugin.<name>]`` section (its declared keys with their
        defaults) and the core's values it may use, named ``affnet.*``."""
        config = dict(self.plugin_sections.get(plugin_name) or self.settings.plugin_config(plugin_name))
        config.update(
            {
                "affnet.allow_private_targets": self.settings["deliveries.allow_private_targets"],
                "affnet.timeout_seconds": self.settings["deliveries.timeout_seconds"],
                "affnet.parallelism": self.settings["deliveries.parallelism"],
                "affnet.base_url": self.settings["base_url"],
            }
        )
        return config


def build_services(settings: Settings, extra_plugins=(), load_entrypoints=True) -> Services:
    """Open the database, load the keys and plugins: what the app and the worker share."""
    configure_logging(settings["log_level"])
    open_database(settings.database_url)
    cache.configure(settings["cache_seconds"])
    policy.install(settings)  # network policies saved on the settings page override the file's values
    keyring.load(settings.instance_path)
    pm = get_plugin_manager(settings["plugins.enabled"], load_entrypoints=load_entrypoints, extra=extra_plugins)
    sections = check_plugin_config(pm, settings)
    registry = outbox.KindRegistry.from_plugins(pm)
    limits = RateLimits(settings["rate_limit_storage"])
    spool = ClickSpool(
        settings.instance_path / "spool",
        settings["tracking.spool_flush_ms"],
        settings["tracking.spool_fsync"],
        flag_clicks=ClickLimit(settings, limits).flag,
    )
    return Services(settings, pm, registry, Recorder(pm, registry, spool), spool, limits, sections)


def create_app(settings: Settings | None = None, extra_plugins=(), load_entrypoints=True) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config["SECRET_KEY"] = load_flask_secret(settings.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = settings["ingest.max_body_bytes"]
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = PageSessions()
    services = app.extensions["affnet"] = build_services(settings, extra_plugins, load_entrypoints)

    @app.before_request
    def _connect():
        g.db_opened = db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc):
        if not db.is_closed():
            db.close()

    tracking.init_app(app, settings, services.spool)
    api.init_app(app, settings, services.recorder, services.limits)
    stats_api.init_app(app)
    openapi.init_app(app, services)
    pages.init_app(app, settings)
    security_headers.init_app(app)

    def _database_down(error):
        return api.database_down(error), 503

    for failure in DATABASE_ERRORS:  # register_error_handler takes one class at a time
        app.register_error_handler(failure, _database_down)

    @app.errorhandler(UnicodeDecodeError)
    def _undecodable(_error):
        """A query string that is not UTF-8 (gunicorn refuses such a request line; other servers pass it, and
        werkzeug's ``request.args`` raises): the caller's fault, answered 400, never 500."""
        return api.error_body("the query string is not valid UTF-8"), 400

    @app.get("/healthz")
    def healthz():
        try:
            db.execute_sql("SELECT 1")
        except Exception as error:  # the database is down: say so, never raise
            return {"ok": False, "error": error.__class__.__name__}, 503
        return {"ok": True}

    mount_routes(services.pm, app)
    log_requests(app)
    if settings["behind_proxy"]:  # outermost, so /r sees the client's address and scheme too
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    return app


def log_requests(app: Flask) -> None:
    """One structured log line per request, with the click or event id. The
    path and the ref are the caller's text: written through ``log_text``,
    so none of their characters can start a line of its own."""
    write = access_writer()
    if write is None:
        return

    @app.after_request
    def _log(response):
        environ = request.environ
        ref = log_text(request.args.get("ref", "-")) if "ref=" in environ.get("QUERY_STRING", "") else "-"
        write(
            f"method={log_text(environ['REQUEST_METHOD'])} "
            f"path={log_text(shown_path(environ['PATH_INFO'], request.view_args))} "
            f"status={response.status_code} ref={ref} click_id={g.get('click_id', '-')} txid={g.get('txid', '-')}"
        )
        return response
