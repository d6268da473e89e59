"""The payout pages: an affiliate chooses a method and sees balances and history; the operator reviews a
run, approves, downloads the transfer file and the books, records or imports hashes, and cancels."""

import io
from datetime import datetime, timedelta
from decimal import Decimal

import affnet_payout_usdt.plugin as usdt
import pytest

from affnet.core.storage.models import LedgerEntry, Payout, SettingVersion

from .conftest import csrf_of, log_in, post_form

ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
HASH = "c" * 64


@pytest.fixture
def affnet_plugins():
    return [("payout_usdt", usdt)]


def _earn(affiliate, amount="80.00", currency="USD"):
    LedgerEntry.create(affiliate=affiliate, currency=currency, amount=Decimal(amount), kind="commission",
                       available_at=datetime.now() - timedelta(days=1))  # fmt: skip


def _choose_usdt(browser):
    return post_form(browser, "/payouts?method=usdt", {"method": "usdt", "network": "TRC20", "address": ADDRESS})


def test_an_affiliate_chooses_usdt_and_sees_it_in_force(browser, people):
    log_in(browser, "aff@example.com")
    assert _choose_usdt(browser).status_code == 302
    page = browser.get("/payouts").get_data(as_text=True)
    assert "usdt" in page and ADDRESS in page and "It is in force now" in page


def test_a_bad_address_is_refused_with_the_methods_reason_and_nothing_is_saved(browser, people):
    log_in(browser, "aff@example.com")
    typo = ADDRESS[:-1] + "T"
    refused = post_form(
        browser, "/payouts?method=usdt&lang=es", {"method": "usdt", "network": "TRC20", "address": typo}
    )
    assert refused.status_code == 200
    assert "La suma de verificación de esta dirección TRON no cuadra" in refused.get_data(as_text=True)
    assert SettingVersion.select().where(SettingVersion.kind == "payout").count() == 0


def test_balances_show_each_currency_with_its_decimals_and_the_minimum(browser, people):
    _earn(people["affiliate"], "80.00")
    _earn(people["affiliate"], "7000", "JPY")
    log_in(browser, "aff@example.com")
    page = browser.get("/payouts").get_data(as_text=True)
    assert "80.00" in page and "7000" in page and "7000.00" not in page and "50.00" in page


def _run_with_one_payout(browser, people):
    _earn(people["affiliate"])
    log_in(browser, "aff@example.com")
    _choose_usdt(browser)
    browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")})
    log_in(browser, "root@example.com")
    made = post_form(browser, "/admin/payouts/run", {}, form_path="/admin/payouts")
    assert made.status_code == 302
    return Payout.get(), made.headers["Location"]


def test_the_operator_reviews_approves_and_completes_a_usdt_payout_that_the_affiliate_then_sees(browser, people):
    payout, run_page = _run_with_one_payout(browser, people)
    week = payout.run.week
    review = browser.get(run_page).get_data(as_text=True)
    assert "aff@example.com" in review and "80.00" in review and "awaiting approval" in review
    post_form(browser, f"/admin/payouts/{week}/approve", {}, form_path=run_page)
    post_form(browser, f"/admin/payouts/{week}/send", {}, form_path=run_page)
    assert Payout.get_by_id(payout.id).status == "sent"
    transfer = post_form(browser, "/admin/payouts/transfers/usdt", {}, form_path=run_page)
    assert transfer.mimetype == "text/csv" and ADDRESS in transfer.get_data(as_text=True)
    books = browser.get(f"/admin/payouts/{week}.csv").get_data(as_text=True)
    assert books.splitlines()[1].startswith(f"{payout.id},aff@example.com,usdt,TRC20 {ADDRESS},80.0000,USD,sent")
    post_form(browser, f"/admin/payouts/{payout.id}/reference", {"reference": HASH}, form_path=run_page)
    assert Payout.get_by_id(payout.id).status == "completed"
    browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")})
    log_in(browser, "aff@example.com")
    history = browser.get("/payouts").get_data(as_text=True)
    assert "completed" in history and HASH in history


def test_hashes_are_imported_from_an_uploaded_file(browser, people):
    payout, run_page = _run_with_one_payout(browser, people)
    week = payout.run.week
    post_form(browser, f"/admin/payouts/{week}/approve", {}, form_path=run_page)
    post_form(browser, f"/admin/payouts/{week}/send", {}, form_path=run_page)
    sheet = (io.BytesIO(f"payout_id,tx_hash\n{payout.id},{HASH}\n".encode()), "paid.csv")
    token = csrf_of(browser, run_page)
    done = browser.post(f"/admin/payouts/{week}/import", data={"csrf_token": token, "sheet": sheet})
    assert done.status_code == 302 and Payout.get_by_id(payout.id).status == "completed"


def test_cancelling_on_the_page_gives_the_amount_back(browser, people):
    payout, run_page = _run_with_one_payout(browser, people)
    post_form(browser, f"/admin/payouts/{payout.id}/cancel", {}, form_path=run_page)
    assert Payout.get_by_id(payout.id).status == "cancelled"
    assert "cancelled" in browser.get(run_page).get_data(as_text=True)
