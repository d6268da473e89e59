"""``GET /r``: record a click and redirect to the landing page (SPEC section 1).

This is the hot path, so it is a plain WSGI handler placed in front of Flask:
the route of a refCode comes from memory (``tracking.find_route``), the click
goes to the spool with one ``write()``, and nothing waits for the database.
Everything else goes on to the Flask app.
"""

from pathlib import Path
from urllib.parse import parse_qsl

from ..core.clicks import tracking
from ..logs import access_writer
from .security_headers import HSTS, static_page_headers

_NOT_FOUND = (Path(__file__).parent / "templates" / "404.html").read_bytes()
_NOT_FOUND_HEADERS = static_page_headers(_NOT_FOUND)


class TrackingLink:
    """WSGI middleware: answers ``/r`` itself, hands every other path to ``app``."""

    def __init__(self, app, settings, spool):
        self.app = app
        self.spool = spool
        self.settings = settings  # the fallback URL is a network policy: read when a ref leads nowhere
        self.secure = settings["tracking.cookie_secure"]
        self.log = access_writer() or (lambda message: None)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/r":
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        args = dict(parse_qsl(_query(environ), keep_blank_values=True))
        route = tracking.find_route(args.get("ref", ""))
        if route is None:
            return self._not_found(environ, start_response, args.get("ref", "-"))
        cookie = tracking.cookie_name(route)
        row = tracking.click_row(
            route,
            args,
            ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
            referer=environ.get("HTTP_REFERER"),
            method=method,
            has_cookie=tracking.has_cookie(environ.get("HTTP_COOKIE"), cookie),
        )
        self.spool.append(row)
        click_id = row["click_id"]
        secure = self.secure == "always" or (self.secure == "auto" and environ.get("wsgi.url_scheme") == "https")
        start_response(
            "302 Found",
            [
                ("Location", route.redirect_to(click_id)),
                (
                    "Set-Cookie",
                    f"{cookie}={click_id}; Max-Age={route.cookie_days * 86400}; HttpOnly; Path=/; "
                    f"SameSite=Lax{'; Secure' if secure else ''}",
                ),
                ("Cache-Control", "no-store"),
                ("Content-Length", "0"),
            ],
        )
        self.log(f"method={method} path=/r status=302 ref={route.ref_code} click_id={click_id}")
        return [b""]

    def _not_found(self, environ, start_response, ref):
        self.log(f"method={environ.get('REQUEST_METHOD')} path=/r status=404 ref={ref[:64]!r}")
        fallback = self.settings["tracking.fallback_url"]
        if fallback:
            start_response("302 Found", [("Location", tracking.location_url(fallback)), ("Content-Length", "0")])
            return [b""]
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(_NOT_FOUND)))]
        headers += _NOT_FOUND_HEADERS + ((HSTS,) if environ.get("wsgi.url_scheme") == "https" else ())
        start_response("404 Not Found", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else _NOT_FOUND]  # HEAD: the headers only


def _query(environ) -> str:
    """The query string as text. A server passes its raw bytes decoded as
    latin-1 (PEP 3333): bytes sent unescaped (UTF-8 that a client did not
    percent-encode) are read as UTF-8 instead, as Flask reads them, with
    bytes that are not UTF-8 replaced (as ``parse_qsl`` does for escaped ones)."""
    query = environ.get("QUERY_STRING", "")
    if query.isascii():
        return query
    try:
        return query.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a server that decoded it already
        return query


def init_app(app, settings, spool):
    app.wsgi_app = TrackingLink(app.wsgi_app, settings, spool)
