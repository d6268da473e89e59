"""The security headers of affnet's answers.

Every page (an HTML answer of the Flask app) carries:

- ``Content-Security-Policy``: scripts and styles only from affnet's own
  ``/static/`` files, never inline (no ``<script>`` blocks, no ``on*=``
  handlers, no ``style=`` attributes: the pages keep to this, a test reads
  every template); ``img-src`` also allows ``data:`` images; no plugins
  (``object-src 'none'``); forms post only to affnet; no page may be framed
  (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for browsers
  that predate it). The charts and the two-factor QR code are inline SVG
  elements, drawn with presentation attributes and classes, which the
  policy allows.
- ``Referrer-Policy: same-origin``: some page addresses carry a one-time
  token (``/reset/<token>``); it never leaves for another site. Not
  ``no-referrer``: over HTTPS the CSRF check (Flask-WTF's strict mode)
  wants the page's own ``Referer`` on every POST.
- ``X-Content-Type-Options: nosniff``, as on the Flask app's other
  answers and the ingest API's.
- ``Strict-Transport-Security: max-age=31536000`` when the request came
  over HTTPS. Behind a proxy that is what its ``X-Forwarded-Proto`` says,
  trusted only with ``behind_proxy`` set; never over plain HTTP, so a
  network tried out on ``http://`` is not locked to HTTPS by accident.

A header the view set itself is kept: a plugin's route (``/hooks/…``)
that answers HTML of its own may send its own policy.

JSON and CSV answers (the stats API, plugin webhooks, static files) get
``nosniff`` (and HSTS over HTTPS), and no page policy. The ``/r`` 302 gets
nothing: it is the hot path, and a redirect shows no content. The ``/r``
404 page has its own constant headers (``static_page_headers``), with its
one inline ``<style>`` allowed by its hash.
"""

import base64
import hashlib
import re

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
NONE = "'none'"
HSTS = ("Strict-Transport-Security", "max-age=31536000")
NOSNIFF = ("X-Content-Type-Options", "nosniff")
PAGE_HEADERS = (
    ("Content-Security-Policy", PAGE_POLICY),
    NOSNIFF,
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


def init_app(app) -> None:
    """Add the headers to every answer of the Flask app (not to the WSGI handlers in front of it)."""
    from flask import request

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        for name, value in PAGE_HEADERS if response.mimetype == "text/html" else (NOSNIFF,):
            headers.setdefault(name, value)
        if request.is_secure:
            headers.setdefault(*HSTS)
        return response


def static_page_headers(page: bytes) -> tuple[tuple[str, str], ...]:
    """The headers of a fixed HTML page that has no script and styles itself with inline ``<style>``
    blocks: each block is allowed by its SHA-256, nothing else loads. Made once, at import."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"
        for block in re.findall(rb"<style>(.*?)</style>", page, re.S)
    )
    policy = (
        f"default-src 'none'; style-src {hashes or NONE}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return (
        ("Content-Security-Policy", policy),
        NOSNIFF,
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    )
