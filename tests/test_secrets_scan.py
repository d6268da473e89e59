"""No secret is ever written to a log or a table: a whole network's day through the real entry points
(log-ins, an offer and its key rotated, ingest, Stripe's webhook, a pixel and a postback whose URL carries
credentials, the worker sending both to local fakes, a stats token used both ways, a reset link, two-factor
set-up, `affnet keys rotate`, and the failing paths of each), then every log line and every column of every
table is searched for each secret used, each secret on its own, so that a failure names every secret that
leaked and where. The servers' own output (`affnet run`, `affnet serve`) is read for tokens too."""

import html
import logging
import re
import time
from pathlib import Path

import affnet_fb_capi.plugin as fb_capi
import affnet_keitaro.plugin as keitaro
import affnet_stripe_ingest.plugin as stripe_plugin
import pytest
import requests
import stripe
from click.testing import CliRunner

from affnet.config import Settings
from affnet.core.network import two_factor, users
from affnet.core.storage.db import db
from affnet.core.storage.models import ALL_MODELS, User
from affnet.core.storage.secrets import KEYS_FILE
from affnet.instance import SECRET_KEY_FILE
from affnet.logs import BatchedLineHandler
from affnet.testing import FakeReceiver, click, click_id_of, ingest, sale_body, totp_code
from affnet.worker import Worker

from .pages.conftest import csrf_of, log_in, post_form
from .processes import Instance, Processes, wait_until, wait_until_healthy

pytestmark = pytest.mark.slow

STRIPE_FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "plugins/stripe_ingest/tests/fixtures/invoice_payment_succeeded_acacia_subscription_create.json"
)
OWNER_PASSWORD = "Owner-pass-7Hq2xLmW9vTz"
AFFILIATE_PASSWORD = "Aff-pass-3Kd8sNqP5rYw"
NEW_PASSWORD = "Reset-pass-6Jt4vBnM1cXe"
SIGNING_SECRET = "whsec_scanSigningSecretQ7w3E9r5T1y"
PIXEL_TOKEN = "EAAGscanPixelTokenZ8x6C4v2B0n9M7"
TRACKER_PASSWORD = "p4ss-SECRET-Vb5Nm3Kj1Hg"
TRACKER_API_KEY = "SECRET-apikey-Lp0Oi9Uy8Tr7"
NEW_OFFER = {
    "name": "Nocturna",
    "description": "Sleep sounds",
    "landing_url": "https://nocturna.example/start",
    "currency": "usd",
    "cookie_days": "30",
    "hold_days": "14",
    "is_public": "y",
    "approval": "auto",
    "sale_kind": "percent",
    "sale_amount": "25",
    "rebill_kind": "percent",
    "rebill_amount": "10%",
}


@pytest.fixture
def affnet_plugins():
    return [("keitaro", keitaro), ("fb_capi", fb_capi), ("stripe_ingest", stripe_plugin)]


@pytest.fixture
def affnet_config():
    return {"deliveries.allow_private_targets": True, "log_level": "DEBUG"}


@pytest.fixture
def graph():
    """Meta's Graph API as a local fake: every batch of events is received."""
    with FakeReceiver([(200, {"Content-Type": "application/json"}, '{"events_received": 1, "messages": []}')]) as fake:
        yield fake


@pytest.fixture
def tracker():
    """The affiliate's tracker: down at first (so a postback is retried), then answering."""
    with FakeReceiver([(503, {}, "Down for a moment"), (200, {}, "Success")]) as fake:
        yield fake


@pytest.fixture
def affnet_settings(affnet_settings, graph):
    sections = {"fb_capi": {"graph_base_url": graph.base}}
    return Settings(affnet_settings.as_dict(), sections, affnet_settings.source)


def _shown(pattern: str, response) -> str:
    found = re.search(pattern, response.get_data(as_text=True))
    assert found, f"{pattern} not on the page ({response.status_code})"
    return found.group(1)


def _rotate_encryption_keys(settings, tmp_path) -> None:
    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    config = tmp_path / "rotate.toml"
    config.write_text(f'database_url = "{settings.database_url}"\ninstance_path = "{settings.instance_path}"\n')
    db.close()
    db.obj.close_all()
    result = CliRunner().invoke(cli, ["--config", str(config), "keys", "rotate", "--json"])
    assert result.exit_code == 0, result.output


OFFER_KEY = r'id="offer-key" readonly value="([^"]+)"'


def owners_part(app, network, secrets: dict) -> None:
    """The owner logs in (one typo first), makes an offer, uses the key, rotates it, sets Stripe's secret."""
    owner, anyone = app.test_client(), app.test_client()
    assert log_in(owner, "owner@example.com", OWNER_PASSWORD + "-typo").status_code == 401
    assert log_in(owner, "owner@example.com", OWNER_PASSWORD).status_code == 302
    secrets["offer key made on the page"] = _shown(OFFER_KEY, post_form(owner, "/owner/offers/new", NEW_OFFER))
    assert ingest(anyone, network, "conversion", sale_body(None, payment="pi_before")).status_code in (201, 202)
    old_key = network.offer_key
    rotated = post_form(owner, "/owner/offers/susurra/key", {}, "/owner/offers/susurra")
    secrets["offer key after rotation"] = network.offer_key = _shown(OFFER_KEY, rotated)
    assert ingest(anyone, network, "conversion", sale_body(None, payment="pi_old"), key=old_key).status_code == 401
    page = "/owner/offers/susurra/integrations/stripe"
    saved = owner.post(f"{page}/secret", data={"csrf_token": csrf_of(owner, page), "value": SIGNING_SECRET})
    assert saved.status_code == 302


def affiliates_settings(affiliate, tracker) -> None:
    """A postback URL with a password and an api_key in it, a pixel with its token, a test send of the form as
    shown (masked; answered 503)."""
    host = tracker.base.split("//")[1]
    postback = f"http://tracker:{TRACKER_PASSWORD}@{host}/pb?subid={{clickid}}&api_key={TRACKER_API_KEY}"
    for path, values in (
        ("/settings/postback", {"save": "1", "url": postback}),
        ("/settings/fb_capi", {"save": "1", "pixel_id": "1234567890", "access_token": PIXEL_TOKEN}),
    ):
        saved = affiliate.post(path, data={"csrf_token": csrf_of(affiliate, path), **values})
        assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    shown = f"http://tracker:***@{host}/pb?subid={{clickid}}&api_key=***"
    assert shown in html.unescape(affiliate.get("/settings/postback").get_data(as_text=True))
    token = csrf_of(affiliate, "/settings/postback")
    tested = affiliate.post("/settings/postback", data={"csrf_token": token, "send_test": "1", "url": shown})
    assert "Down for a moment" in tested.get_data(as_text=True)


def traffic(app, network, tracker, graph, clock) -> str:
    """A click, an ingest call and Stripe's webhook (one forged call refused), sent by the worker to the
    fakes (the tracker once failing, then again an hour later); returns the click's id."""
    anyone = app.test_client()
    click_id = click_id_of(click(anyone, network.ref, fbclid="IwAR-scan"))
    assert ingest(anyone, network, "conversion", sale_body(click_id, payment="pi_after")).status_code == 201
    payload = STRIPE_FIXTURE.read_text().replace("{{click_id}}", click_id)
    for secret, status in ((SIGNING_SECRET[:-1] + "x", 400), (SIGNING_SECRET, 201)):
        signed = stripe.WebhookSignature.generate_signature_header(payload, secret)
        hook = anyone.post(
            "/hooks/stripe/susurra",
            data=payload.encode(),
            headers={"Stripe-Signature": signed, "Content-Type": "application/json"},
        )
        assert hook.status_code == status, hook.get_data(as_text=True)
    worker = Worker(app.extensions["affnet"], app=app, worker_id="scan-worker")
    worker.run_once()
    clock.advance(hours=1)
    worker.run_once()
    assert graph.requests and len(tracker.requests) >= 3, "the pixel's events and the postbacks, one retried"
    assert any(TRACKER_API_KEY in request["raw_query"] for request in tracker.requests)
    return click_id


def stats_token(app, affiliate, click_id, secrets: dict) -> None:
    """A stats token made on its page and used as ?token= and as a Bearer header, and a wrong one."""
    anyone = app.test_client()
    secrets["stats token"] = token = _shown(
        r'id="made" readonly value="([^"]+)"', post_form(affiliate, "/tokens", {"name": "Keitaro"})
    )
    for asked, status in (
        ({"query_string": {"token": token}}, 200),
        ({"headers": {"Authorization": f"Bearer {token}"}}, 200),
        ({"query_string": {"token": token[:-2] + "xx"}}, 401),
    ):
        with anyone.get("/api/affiliate/stats-api", **asked) as pulled:  # closed: it streams in an app context
            assert pulled.status_code == status
            assert status != 200 or click_id in pulled.get_data(as_text=True)


def two_factor_and_reset(app, affiliate, secrets: dict) -> None:
    """Two-factor set-up (a wrong code first), a log-in with a recovery code, a reset link used."""
    post_form(affiliate, "/account/two-factor/start", {}, form_path="/account/two-factor")
    with db.connection_context():
        secrets["TOTP secret"] = totp = two_factor.secret_of(User.get(User.email == "aff@example.com"))
    for code in (f"{(int(totp_code(totp)) + 1) % 1_000_000:06d}", totp_code(totp)):
        enabled = post_form(affiliate, "/account/two-factor/enable", {"enable-code": code}, "/account/two-factor")
    codes = _shown(r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', enabled).split()
    secrets.update({f"recovery code {n}": code for n, code in enumerate(codes, 1)})
    post_form(affiliate, "/logout", {}, "/account")
    assert log_in(affiliate, "aff@example.com", AFFILIATE_PASSWORD).status_code == 302
    assert post_form(affiliate, "/login/code", {"code": codes[0]}).status_code == 302

    with db.connection_context():
        secrets["password reset link"] = reset = users.reset_link_token(User.get(User.email == "aff@example.com"))
    stranger = app.test_client()
    new = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert post_form(stranger, f"/reset/{reset}", new).status_code == 302


def run_the_day(app, network, settings, graph, tracker, clock, tmp_path) -> dict[str, str]:
    """Every entry point that handles a secret; returns the secrets used, by name."""
    secrets = {
        "owner password": OWNER_PASSWORD,
        "affiliate password": AFFILIATE_PASSWORD,
        "password set by a reset link": NEW_PASSWORD,
        "Stripe signing secret": SIGNING_SECRET,
        "pixel access token": PIXEL_TOKEN,
        "password in the postback URL": TRACKER_PASSWORD,
        "api_key in the postback URL": TRACKER_API_KEY,
        "offer key made by the fixture": network.offer_key,
    }
    with db.connection_context():
        for user, password in ((network.advertiser, OWNER_PASSWORD), (network.affiliate, AFFILIATE_PASSWORD)):
            users.set_password(User.get_by_id(user.id), password)
    owners_part(app, network, secrets)
    affiliate = app.test_client()
    assert log_in(affiliate, "aff@example.com", AFFILIATE_PASSWORD).status_code == 302
    affiliates_settings(affiliate, tracker)
    click_id = traffic(app, network, tracker, graph, clock)
    for path in ("/settings/postback", "/settings/fb_capi", "/deliveries", "/audit"):
        assert affiliate.get(path).status_code == 200
    stats_token(app, affiliate, click_id, secrets)
    two_factor_and_reset(app, affiliate, secrets)

    old_keys = (settings.instance_path / KEYS_FILE).read_text().split()
    _rotate_encryption_keys(settings, tmp_path)
    new_keys = (settings.instance_path / KEYS_FILE).read_text().split()
    secrets.update({f"encryption key {n}": key for n, key in enumerate({*old_keys, *new_keys}, 1)})
    secrets["the sessions' signing key"] = (settings.instance_path / SECRET_KEY_FILE).read_text().strip()
    return secrets


def every_log_line(caplog, capfd, instance: Path) -> list[str]:
    for handler in logging.getLogger("affnet.access").handlers:
        if isinstance(handler, BatchedLineHandler):
            handler.flush()
    captured = capfd.readouterr()
    lines = [*captured.out.splitlines(), *captured.err.splitlines(), *caplog.text.splitlines()]
    lines += [record.getMessage() for record in caplog.records]
    for path in instance.rglob("*"):
        if path.is_file() and path.name not in (KEYS_FILE, SECRET_KEY_FILE):
            lines += [f"{path.name}: {line}" for line in path.read_text(errors="replace").splitlines()]
    return lines


def every_stored_value() -> list[str]:
    with db.connection_context():
        return [
            f"{model._meta.table_name}.{field.name}: {value}"
            for model in ALL_MODELS
            for row in model.select().tuples()
            for field, value in zip(model._meta.sorted_fields, row)
            if value is not None
        ]


def fragments(secret: str) -> list[str]:
    """The secret, and its first and last 12 characters when it is longer than 16."""
    return [secret, secret[:12], secret[-12:]] if len(secret) > 16 else [secret]


def test_no_secret_reaches_a_log_line_or_a_table(
    affnet_app, affnet_network, affnet_settings, graph, tracker, affnet_clock, caplog, capfd, tmp_path
):
    caplog.set_level(logging.DEBUG)
    secrets = run_the_day(affnet_app, affnet_network, affnet_settings, graph, tracker, affnet_clock, tmp_path)
    logged = every_log_line(caplog, capfd, affnet_settings.instance_path)
    stored = every_stored_value()
    assert len(logged) > 20 and len(stored) > 100, "the day was logged and stored"
    leaks = []
    for name, secret in secrets.items():
        for where, lines in (("logs", logged), ("tables", stored)):
            hits = [line for line in lines if any(part in line for part in fragments(secret))]
            if hits:
                leaks.append(f"the {name} is in the {where}: {hits[0][:300]}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("command", [["run"], ["serve", "--no-worker"]])
def test_the_servers_write_no_token_of_a_query_string_or_a_path(tmp_path, command):
    """``affnet run`` (werkzeug's development server) and ``affnet serve`` (gunicorn) write their own
    output besides affnet's access log: neither may write a stats token sent as ``?token=`` or a reset
    link's token."""
    instance = Instance(tmp_path, log_level="INFO")
    run, affnet, env, port = instance.json, instance.command, instance.env, instance.port

    run("init")
    affiliate = run("demo")["affiliates"][0]["email"]
    token = run("tokens", "create", "--affiliate", affiliate, "--name", "scan")["token"]
    reset = run("users", "reset-password", affiliate)["link"].rsplit("/", 1)[1]
    processes = Processes(tmp_path)
    try:
        processes.start("server", affnet + command, env)
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy([base])
        assert requests.get(f"{base}/api/affiliate/stats-api", params={"token": token}, timeout=10).status_code == 200
        assert requests.get(f"{base}/reset/{reset}", timeout=10).status_code == 200
        log = tmp_path / "server.log"
        wait_until(lambda: "path=/reset/" in log.read_text(errors="replace"), time.monotonic() + 10, "the access log")
    finally:
        processes.stop_all()
    output = log.read_text(errors="replace")
    assert "path=/api/affiliate/stats-api status=200" in output
    assert token[:12] not in output and token[-12:] not in output, "the stats token is in the server's output"
    assert reset[:12] not in output and reset[-12:] not in output, "the reset link's token is in the server's output"
