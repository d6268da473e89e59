"""The product owner's and the operator's path through the pages in a real headless Chromium: the owner
sets up two-factor log-in and logs in with a TOTP code, makes an offer with its rules, sets the Stripe
signing secret and copies the snippet; an affiliate applies and the owner approves; a Stripe webhook
signed with the official ``stripe`` library records a sale that the owner sees in conversions and the
affiliate in stats; the operator sees the affiliate's failing postback endpoint, fixes nothing, retries
it once the tracker is back, and reads each of these actions in the audit log. Every page is saved as a
screenshot (desktop and 375 px wide, English and Spanish) with the affiliate pages' ones, and axe-core
finds no serious or critical fault on any."""

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import stripe
from selenium.webdriver.support.ui import WebDriverWait

from affnet.core import clock
from affnet.core.network import accounts, two_factor
from affnet.core.storage.models import Delivery, Event, Offer, Participation, User
from affnet.testing import FakeReceiver, free_port, totp_code

from .browser import Walk, live_server, start_chrome

PORT = free_port()
FIXTURES = Path(__file__).resolve().parents[2] / "plugins" / "stripe_ingest" / "tests" / "fixtures"
SIGNING_SECRET = "whsec_calmaE2eSigningSecret0123456789"
OWNER, OWNER_PASSWORD = "maria@calma.example", "a-long-owner-password-1"
AFFILIATE, AFFILIATE_PASSWORD = "lucia@example.com", "a-long-password-1"
ADMIN, ADMIN_PASSWORD = "root@example.com", "an-operators-password-1"

pytestmark = pytest.mark.slow


@pytest.fixture
def affnet_database_url(tmp_path):
    """One database is enough for a walk through the pages: SQLite."""
    return f"sqlite:///{tmp_path}/affnet.db"


@pytest.fixture
def affnet_config():
    return {
        "plugins.enabled": ["keitaro", "fb_capi", "stripe_ingest", "payout_usdt"],
        "deliveries.allow_private_targets": True,
        "accounts.require_two_factor": True,
        "base_url": f"http://127.0.0.1:{PORT}",
    }


@pytest.fixture
def server(affnet_app):
    with live_server(affnet_app, PORT) as address:
        yield address


@pytest.fixture
def browsers():
    """Two browsers: the product owner's, and one the affiliate and then the operator use."""
    drivers = [start_chrome(), start_chrome()]
    yield drivers
    for driver in drivers:
        driver.quit()


def code_after(seconds: int, secret: str) -> str:
    """The code an authenticator shows ``seconds`` from now (a code works once: a second log-in takes the
    next step's, which the server accepts one step early)."""
    return totp_code(secret, at=clock.now() + timedelta(seconds=seconds))


def log_in(walk: Walk, email: str, password: str, code: str | None = None):
    walk.driver.delete_all_cookies()
    walk.go("/login")
    walk.fill(email=email, password=password)
    walk.press("submit")
    if code is not None:
        assert walk.driver.current_url.endswith("/login/code"), walk.text()[:300]
        walk.fill(code=code)
        walk.press("submit")


def signed_stripe_event(name: str, click_id: str) -> tuple[str, str]:
    """A Stripe event and its ``Stripe-Signature``, signed with the official library's own signing
    function and checked by ``stripe.Webhook.construct_event`` as a product owner's server would."""
    payload = (FIXTURES / f"{name}.json").read_text().replace("{{click_id}}", click_id)
    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", SIGNING_SECRET)
    header = f"t={timestamp},v1={signature}"
    stripe.Webhook.construct_event(payload, header, SIGNING_SECRET)
    return payload, header


def test_an_owner_and_the_operator_run_an_offer_from_the_pages(browsers, server, affnet_app, affnet_worker):
    accounts.create_user(OWNER, "advertiser", name="Calma Ltd", password=OWNER_PASSWORD)
    accounts.create_user(AFFILIATE, "affiliate", name="Lucía", password=AFFILIATE_PASSWORD)
    admin, _ = accounts.create_user(ADMIN, "admin", password=ADMIN_PASSWORD)
    admin_secret = two_factor.start(admin)
    two_factor.confirm(admin, code_after(-30, admin_secret))  # set up earlier, on the operator's phone
    owner, other = Walk(browsers[0], server), Walk(browsers[1], server)

    with FakeReceiver([(503, {}, "down for maintenance")]) as tracker:
        # the owner's first log-in: the network requires two-factor log-in of product owners
        log_in(owner, OWNER, OWNER_PASSWORD)
        assert owner.driver.current_url.endswith("/account/two-factor"), owner.driver.current_url
        owner.go("/account/two-factor", "two-factor")
        owner.press("start-submit")
        owner.capture("two-factor-setup", "/account/two-factor")
        secret = owner.value("two-factor-key").replace(" ", "")
        owner.fill(**{"enable-code": totp_code(secret)})
        owner.press("enable-submit")
        codes = re.findall(r"\b[a-z0-9]{5}-[a-z0-9]{5}\b", owner.text())
        assert len(codes) == 10, owner.text()[:500]
        log_in(owner, OWNER, OWNER_PASSWORD, code=code_after(30, secret))
        owner.capture("login-code", "/login/code")
        assert owner.driver.current_url.endswith("/owner/offers"), owner.driver.current_url

        # an offer with its rules
        owner.go("/owner/offers/new", "owner-new-offer")
        owner.fill(
            name="Calma",
            description="Breathing exercises, monthly subscription $29.",
            landing_url="https://calma.example/start",
            sale_amount="40",
            rebill_amount="20",
            rebill_months="12",
        )
        owner.select(sale_kind="percent", rebill_kind="percent")
        owner.press("submit")
        assert owner.value("offer-key").startswith("ok_"), owner.text()[:300]
        offer = Offer.get(Offer.slug == "calma")
        assert {rule.event: (rule.kind, str(rule.amount)) for rule in offer.rules} == {
            "sale": ("percent", "40.0000"),
            "rebill": ("percent", "20.0000"),
        }
        owner.go("/owner/offers", "owner-offers")
        owner.go("/owner/offers/calma", "owner-offer")

        # Stripe: the signing secret (write-only) and the snippet
        owner.go("/owner/offers/calma/integrations/stripe", "owner-stripe")
        owner.fill(value=SIGNING_SECRET)
        owner.press("save")
        assert SIGNING_SECRET not in owner.driver.page_source and SIGNING_SECRET[-4:] in owner.text()
        snippet = owner.driver.find_element("id", "snippet-1")
        assert "/api/ingest/" in snippet.text and "AFFNET_OFFER_KEY" in snippet.text
        copy = owner.driver.find_element("xpath", "//button[@data-copy-text='snippet-1']")
        copy.click()
        WebDriverWait(owner.driver, 5).until(lambda _driver: copy.get_attribute("data-copied") == "1")

        # the affiliate applies; the owner approves with a note
        log_in(other, AFFILIATE, AFFILIATE_PASSWORD)
        other.go("/marketplace/calma")
        other.fill(note="Breathing content on TikTok")
        other.press("submit")
        participation = Participation.get(Participation.offer == offer.id)
        owner.go("/owner/offers/calma/applications", "owner-applications")
        owner.fill(note="Welcome to Calma")
        owner.press(
            f"//form[contains(@action, '/applications/{participation.id}')]//button[@value='approved']", "xpath"
        )
        assert Participation.get_by_id(participation.id).status == "approved"
        other.go("/marketplace/calma")
        link = other.value("link")
        assert "Welcome to Calma" in other.text()

        # the affiliate's tracker (down for now) gets a postback for every sale
        other.go("/settings/postback")
        other.fill(url=f"{tracker.base}/postback?subid={{clickid}}&status={{status}}&payout={{payout}}")
        other.press("save")

        # a click, then the sale through Stripe's webhook
        visit = requests.get(link + "&s1=tiktok-calma", allow_redirects=False, timeout=10)
        click_id = visit.headers["Location"].split("click_id=")[1]
        affnet_app.extensions["affnet"].spool.flush()
        payload, header = signed_stripe_event("invoice_paid_basil_subscription_create", click_id)
        answer = requests.post(
            f"{server}/hooks/stripe/calma",
            data=payload.encode(),
            timeout=10,
            headers={"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"},
        )
        assert answer.status_code in (200, 201), answer.text
        sale = Event.get(Event.offer == offer.id)
        assert (sale.kind, str(sale.payout)) == ("sale", "11.6000")

        owner.go("/owner/offers/calma/integrations/stripe")
        assert "recorded" in owner.text()
        owner.go("/owner/offers/calma/conversions", "owner-conversions")
        assert sale.txid in owner.text() and "11.60" in owner.text()
        owner.go("/owner/offers/calma/affiliates", "owner-affiliates")
        assert AFFILIATE in owner.text()
        other.go("/stats?group_by=sub1")
        assert "tiktok-calma" in other.text() and "11.60" in other.text()

        # the worker tries the postback: the tracker is down
        affnet_worker.run_once()
        delivery = Delivery.get(Delivery.event == sale.id)
        assert (delivery.status, delivery.attempts) == ("pending", 1)

        # the operator logs in with a code, sees the failing endpoint, and retries it once the tracker is back
        log_in(other, ADMIN, ADMIN_PASSWORD, code=totp_code(admin_secret))
        assert other.driver.current_url.endswith("/admin"), other.driver.current_url
        other.go("/admin", "admin-health")
        other.go("/admin/deliveries", "admin-deliveries")
        assert "127.0.0.1" in other.text() and "503" in other.text()
        other.go("/admin/deliveries/127.0.0.1", "admin-deliveries-host")
        tracker.answers = [(200, {}, "Success")]
        other.go("/admin/deliveries")
        other.press("//button[normalize-space()='Retry all for this host']", "xpath")
        affnet_worker.run_once()
        assert Delivery.get_by_id(delivery.id).status == "sent"
        assert (tracker.requests[-1]["query"]["status"], tracker.requests[-1]["query"]["payout"]) == ("sale", "11.60")
        for path, name in (
            ("/admin/users", "admin-users"),
            ("/admin/offers", "admin-offers"),
            ("/admin/participations", "admin-participations"),
            ("/admin/settings", "admin-settings"),
            ("/admin/plugins", "admin-plugins"),
        ):
            other.go(path, name)

        # every action above is in the audit log
        other.go("/audit", "audit")
        log = other.text()
        for action in (
            "two_factor.enable",
            "offer.create",
            "commission.set",
            "offer.secret",
            "participation.status",
            "delivery.retry",
        ):
            assert action in log, action
        assert SIGNING_SECRET not in other.driver.page_source
        assert User.get(User.email == OWNER).totp_enabled_at is not None

    faults = {**owner.faults, **other.faults}
    assert faults == {}, json.dumps(faults, indent=1)
    assert owner.shots + other.shots == 19 * 4, "every page: Spanish and English, desktop and phone"
