"""The security headers: every page under a policy that allows no inline script or style and no
framing, never sends a one-time token off-site, and says nosniff; every other answer says nosniff;
HSTS and a Secure session cookie only over HTTPS; a proxy's headers trusted only with ``behind_proxy``."""

import base64
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from affnet.core.network import two_factor
from affnet.web.pages.charts import day_chart
from affnet.web.security_headers import PAGE_POLICY

from ..pages import conftest as pages_conftest
from ..pages.conftest import csrf_of, log_in
from ..pages.test_access import PAGES_OF_ACCOUNT, _affiliate_ids

people = pages_conftest.people  # every role, with a known password (a fixture)
PUBLIC_PAGES = ["/login", "/signup", "/forgot", "/reset/not-a-token", "/no-such-page"]
INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+\s*=|javascript:", re.I)


@pytest.fixture
def affnet_database_url(tmp_path):
    """Headers do not depend on the database: SQLite (the pages' own tests run on both)."""
    return f"sqlite:///{tmp_path}/affnet.db"


@pytest.fixture
def affnet_plugins():
    import affnet_echo_test.plugin as echo
    import affnet_stripe_ingest.plugin as stripe

    return [("echo_test", echo), ("stripe_ingest", stripe)]


@pytest.fixture
def every_page(affnet_app, people):
    """Every page a browser can open, as its role (and the public ones as a visitor): (path, answer)."""
    ids = _affiliate_ids(people)
    answers = [(path, affnet_app.test_client().get(path)) for path in PUBLIC_PAGES]
    for email, pages in PAGES_OF_ACCOUNT.items():
        client = affnet_app.test_client()
        log_in(client, email)
        for method, path in pages:
            if method == "GET" and not path.split("?")[0].endswith(".csv"):
                answers.append((path, client.get(path.format(**ids))))
    client = affnet_app.test_client()
    log_in(client, "aff@example.com")
    answers.append(
        (
            "the QR code",
            client.post(
                "/account/two-factor/start",
                data={"start-csrf_token": csrf_of(client, "/account/two-factor")},
                follow_redirects=True,
            ),
        )
    )
    assert 'class="qr"' in answers[-1][1].get_data(as_text=True)
    answers.append(("403", client.get("/admin")))
    assert all(answer.mimetype == "text/html" for _, answer in answers)
    assert sum(answer.status_code == 200 for _, answer in answers) >= 35, [(p, a.status_code) for p, a in answers]
    return answers


def test_every_page_allows_scripts_and_styles_only_from_affnets_own_files_and_no_framing(every_page):
    for path, answer in every_page:
        policy = answer.headers.get("Content-Security-Policy")
        assert policy == PAGE_POLICY, path
    directives = dict(part.strip().split(" ", 1) for part in PAGE_POLICY.split(";"))
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_no_page_has_an_inline_script_handler_style_or_javascript_url(every_page):
    for path, answer in every_page:
        assert INLINE.search(answer.get_data(as_text=True)) is None, (
            path,
            INLINE.search(answer.get_data(as_text=True)),
        )


def test_no_template_has_an_inline_script_handler_style_or_javascript_url():
    """Also the parts of pages the walk above does not reach (the /r 404 page has its own policy)."""
    root = Path(__file__).resolve().parents[2]
    templates = [
        *(root / "affnet" / "web" / "templates" / "pages").rglob("*.html"),
        *root.glob("plugins/*/affnet_*/**/*.html"),
    ]
    assert len(templates) > 30
    for template in templates:
        assert INLINE.search(template.read_text()) is None, (template, INLINE.search(template.read_text()))


def test_the_charts_and_the_qr_code_draw_without_inline_styles():
    rows = [
        SimpleNamespace(label=f"2026-06-0{day}", clicks=day, leads=1, trials=0, sales=1, rebills=0) for day in (1, 2)
    ]
    for svg in (str(day_chart(rows)), two_factor.qr_svg("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP", title="QR")):
        assert "<svg" in svg and INLINE.search(svg) is None, svg[:200]


def test_every_page_sends_its_address_to_its_own_site_only_and_refuses_frames(every_page):
    for path, answer in every_page:
        assert answer.headers.get("Referrer-Policy") == "same-origin", path
        assert answer.headers.get("X-Frame-Options") == "DENY", path


def test_every_answer_says_nosniff(every_page, affnet_app, affnet_network, people):
    client = affnet_app.test_client()
    log_in(client, "aff@example.com")
    others = {
        "stats.csv": client.get("/stats.csv"),
        "stats API": affnet_app.test_client().get("/api/affiliate/stats-api?token=wrong"),
        "ingest API": affnet_app.test_client().post("/api/ingest/conversion", json={}),
        "static": client.get("/static/pages.css"),
        "healthz": client.get("/healthz"),
        "/r 404": client.get("/r?ref=nobody"),
    }
    others["static"].close()
    for name, answer in [*every_page, *others.items()]:
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", name
    for name in ("stats.csv", "stats API", "ingest API", "static", "healthz"):
        assert "Content-Security-Policy" not in others[name].headers, name


def test_a_route_that_sets_its_own_policy_keeps_it(affnet_app):
    own = "default-src 'none'; frame-ancestors 'none'"
    affnet_app.add_url_rule("/hooks/own/page", "own_page", lambda: ("<p>own</p>", {"Content-Security-Policy": own}))
    answer = affnet_app.test_client().get("/hooks/own/page")
    assert answer.mimetype == "text/html" and answer.headers.getlist("Content-Security-Policy") == [own]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_the_landing_helper_stays_loadable_from_other_sites(affnet_client):
    answer = affnet_client.get("/static/affnet.js", headers={"Origin": "https://shop.example"})
    answer.close()
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"  # nosniff needs a script type
    for header in ("Content-Security-Policy", "Cross-Origin-Resource-Policy", "Cross-Origin-Embedder-Policy"):
        assert header not in answer.headers


def test_the_not_found_page_of_r_allows_its_own_style_and_nothing_else(affnet_client):
    answer = affnet_client.get("/r?ref=nobody")
    assert answer.status_code == 404
    style = re.search(rb"<style>(.*?)</style>", answer.get_data(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    assert answer.headers["Content-Security-Policy"] == (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in answer.headers
    assert affnet_client.get("/r?ref=nobody", base_url="https://go.example").headers["Strict-Transport-Security"]


def test_the_redirect_of_r_carries_none_of_the_page_headers(affnet_client, affnet_network):
    answer = affnet_client.get(f"/r?ref={affnet_network.participation.ref_code}", base_url="https://go.example")
    assert answer.status_code == 302
    for header in ("Content-Security-Policy", "Strict-Transport-Security", "X-Frame-Options", "Referrer-Policy"):
        assert header not in answer.headers


def test_hsts_only_over_https(affnet_client):
    assert "Strict-Transport-Security" not in affnet_client.get("/login").headers
    assert affnet_client.get("/login", base_url="https://go.example").headers["Strict-Transport-Security"] == (
        "max-age=31536000"
    )


def _session_cookie(answer) -> str:
    return next(value for value in answer.headers.getlist("Set-Cookie") if value.startswith("session="))


def test_the_session_cookie_is_secure_when_the_request_came_over_https(affnet_app):
    plain = affnet_app.test_client().get("/login")
    tls = affnet_app.test_client().get("/login", base_url="https://go.example")
    assert "Secure" not in _session_cookie(plain)
    assert "; Secure" in _session_cookie(tls)
    for cookie in (_session_cookie(plain), _session_cookie(tls)):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


FORWARDED_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "go.example"}


def test_without_behind_proxy_a_forwarded_https_gives_no_hsts_and_no_secure_cookie(affnet_client):
    answer = affnet_client.get("/login", headers=FORWARDED_HTTPS)
    assert "Strict-Transport-Security" not in answer.headers
    assert "Secure" not in _session_cookie(answer)


@pytest.mark.parametrize("affnet_config", [{"behind_proxy": True}])
def test_behind_proxy_a_forwarded_https_gives_hsts_and_a_secure_cookie(affnet_client):
    answer = affnet_client.get("/login", headers=FORWARDED_HTTPS)
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "; Secure" in _session_cookie(answer)
    plain = affnet_client.application.test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers and "Secure" not in _session_cookie(plain)


def _log_in_tries(client, count: int) -> list[int]:
    """``count`` log-ins with a wrong password, each for another account and from another forwarded address."""
    token = csrf_of(client, "/login")
    return [
        client.post(
            "/login",
            data={"csrf_token": token, "email": f"nobody{n}@example.com", "password": "wrong-password-1"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(count)
    ]


@pytest.mark.parametrize("affnet_config", [{"accounts.login_rate_limit": "3 per minute"}])
def test_without_behind_proxy_x_forwarded_for_does_not_change_the_address_log_ins_are_counted_on(affnet_client):
    assert _log_in_tries(affnet_client, 4) == [401, 401, 401, 429]


@pytest.mark.parametrize("affnet_config", [{"accounts.login_rate_limit": "3 per minute", "behind_proxy": True}])
def test_behind_proxy_log_ins_are_counted_on_the_forwarded_address(affnet_client):
    assert _log_in_tries(affnet_client, 4) == [401, 401, 401, 401]
