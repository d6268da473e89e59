"""An affiliate's whole path through the pages in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, through Selenium; nothing is downloaded): sign up, approval, applying, the link,
a Keitaro postback and its test, a click and a sale, the dashboard, the stats page and its CSV, a
token that pulls the stats API. Every page is saved as a screenshot (desktop and 375 px wide, English
and Spanish) under ``build/screenshots/``, and axe-core finds no serious or critical fault on any."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from affnet.core.network import accounts
from affnet.core.storage.models import LedgerEntry, Participation, User
from affnet.testing import FakeReceiver, free_port

from .browser import Walk, live_server, start_chrome

PORT = free_port()

pytestmark = pytest.mark.slow


@pytest.fixture
def affnet_database_url(tmp_path):
    """One database is enough for a walk through the pages: SQLite."""
    return f"sqlite:///{tmp_path}/affnet.db"


USDT_ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TX_HASH = "d" * 64


@pytest.fixture
def affnet_config():
    return {
        "plugins.enabled": ["keitaro", "fb_capi", "payout_usdt"],
        "deliveries.allow_private_targets": True,
        "base_url": f"http://127.0.0.1:{PORT}",
    }


@pytest.fixture
def server(affnet_app):
    with live_server(affnet_app, PORT) as address:
        yield address


@pytest.fixture
def chrome():
    driver = start_chrome()
    yield driver
    driver.quit()


def test_an_affiliate_walks_from_sign_up_to_a_paid_sale(chrome, server, affnet_network, affnet_app, affnet_cli):
    accounts.create_user("root@example.com", "admin", password="an-operators-password-1")
    walk = Walk(chrome, server)
    with FakeReceiver([(200, {}, "Success")]) as keitaro:
        # sign up; the operator approves
        walk.go("/forgot", "forgot")
        walk.go("/signup", "signup")
        walk.fill(name="Lucía", email="lucia@example.com", password="a-long-password-1", confirm="a-long-password-1")
        walk.press("submit")
        assert "approve your account" in walk.text()
        reset = affnet_cli("users", "reset-password", "lucia@example.com", "--json")
        walk.go(json.loads(reset.output)["link"].removeprefix(server), "reset")
        assert affnet_cli("users", "approve", "lucia@example.com").exit_code == 0
        walk.go("/login", "login")
        walk.fill(email="lucia@example.com", password="a-long-password-1")
        walk.press("submit")
        assert chrome.current_url.endswith("/dashboard"), (chrome.current_url, walk.text()[:500])

        # the marketplace; apply; the owner approves (the command line until their pages exist)
        walk.go("/marketplace", "marketplace")
        walk.go("/marketplace/susurra", "offer")
        walk.fill(note="Spanish TikTok traffic")
        walk.press("submit")
        participation = Participation.get(Participation.affiliate == User.get(User.email == "lucia@example.com").id)
        assert affnet_cli("participations", "set-status", participation.ref_code, "approved").exit_code == 0
        walk.go("/marketplace/susurra")
        link = walk.value("link")
        assert link == f"{server}/r?ref={participation.ref_code}"

        # a Keitaro postback, tested on the page
        walk.go("/settings/postback", "postback")
        walk.fill(url=f"{keitaro.base}/postback?subid={{clickid}}&status={{status}}&payout={{payout}}")
        walk.press("send_test")
        assert "HTTP 200" in walk.text() and keitaro.requests[-1]["query"]["subid"] == "affnet-test"
        walk.press("save")
        assert "It is in force now" in walk.text()
        walk.go("/settings/fb_capi", "pixel")

        # a click and a sale arrive
        visit = requests.get(
            link + "&s1=tiktok-es",
            allow_redirects=False,
            timeout=10,
            headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile"},
        )
        click_id = visit.headers["Location"].split("click_id=")[1]
        affnet_app.extensions["affnet"].spool.flush()
        sale = requests.post(
            f"{server}/api/ingest/conversion",
            timeout=10,
            headers={"X-Offer-Key": affnet_network.offer_key},
            json={
                "click_id": click_id,
                "user_ref": "cus_lucia",
                "event": "sale",
                "external_payment_id": "pi_lucia",
                "gross_amount": 29.0,
                "currency": "USD",
            },
        )
        assert sale.status_code == 201

        walk.go("/dashboard", "dashboard")
        assert "8.70 USD" in walk.text()
        walk.go("/stats?group_by=sub1", "stats")
        assert "tiktok-es" in walk.text()
        csv_text = requests.get(
            f"{server}/stats.csv?group_by=sub1",
            timeout=10,
            cookies={c["name"]: c["value"] for c in chrome.get_cookies()},
        ).text
        assert "tiktok-es" in csv_text and "8.70" in csv_text

        walk.go("/tokens", "tokens")
        walk.fill(name="Keitaro")
        walk.press("submit")
        token = walk.value("made")
        pulled = requests.get(
            f"{server}/api/affiliate/stats-api", params={"token": token, "format": "json"}, timeout=10
        )
        assert [(row["click_id"], row["sub1"], row["payout"]) for row in pulled.json()] == [
            (click_id, "tiktok-es", "8.70")
        ]

        walk.go(f"/offers?ref={participation.ref_code}&preset=keitaro&s1=es", "offers")
        walk.go("/deliveries", "deliveries")
        walk.go("/account", "account")

        # a USDT address; last month's earnings are past their hold
        walk.go("/payouts?method=usdt")
        walk.fill(network="TRC20", address=USDT_ADDRESS)
        walk.press("save")
        assert "It is in force now" in walk.text()
        lucia = User.get(User.email == "lucia@example.com")
        LedgerEntry.create(affiliate=lucia, currency="USD", amount=Decimal("61.30"), kind="commission",
                           available_at=datetime.now() - timedelta(days=1))  # fmt: skip
        walk.go("/payouts", "payouts")

        # the operator makes the run, approves it, sends it and records the transaction hash
        chrome.delete_all_cookies()
        walk.go("/login")
        walk.fill(email="root@example.com", password="an-operators-password-1")
        walk.press("submit")
        assert chrome.current_url.endswith("/admin"), chrome.current_url
        walk.go("/admin/payouts", "admin-payouts")
        walk.press("make_run")
        run_path = chrome.current_url.removeprefix(server)
        walk.press("approve_all")
        walk.press("send_now")
        walk.go(run_path, "admin-run")
        walk.fill(reference=TX_HASH)
        walk.press("complete")
        assert "completed" in walk.text()

        # the affiliate sees it paid
        chrome.delete_all_cookies()
        walk.go("/login")
        walk.fill(email="lucia@example.com", password="a-long-password-1")
        walk.press("submit")
        walk.go("/payouts")
        assert "completed" in walk.text() and TX_HASH in walk.text() and "61.30" in walk.text()

    assert walk.faults == {}, json.dumps(walk.faults, indent=1)
    assert walk.shots == 17 * 4, "every page: Spanish and English, desktop and phone"
