"""The affiliate's pages do what an affiliate needs: apply, get the link, see clicks and sales,
download them, make a token for the stats API."""

import csv
import io
import re
from datetime import timedelta

import pytest

from affnet.core.network import accounts
from affnet.core.storage.models import Participation
from affnet.testing import click, click_id_of, ingest, sale_body

from .conftest import csrf_of, log_in, post_form


@pytest.fixture
def newcomer(browser, people, affnet_network):
    """The second affiliate, logged in, with an offer of its own to apply to."""
    log_in(browser, "other@example.com")
    offer, key = accounts.create_offer(
        affnet_network.advertiser,
        "Nocturna",
        "https://nocturna.example/",
        rules=[accounts.RuleSpec.parse("sale=12.50")],
    )
    return offer, key


def test_the_marketplace_shows_each_public_offer_with_its_terms(browser, newcomer):
    page = browser.get("/marketplace").get_data(as_text=True)
    assert "Nocturna" in page and "12.50 USD" in page and "Cookie: 60 days" in page and "Hold: 7 days" in page


def test_applying_waits_for_the_owner_then_shows_the_ref_code_and_link(browser, newcomer):
    offer, _ = newcomer
    response = post_form(browser, "/marketplace/nocturna", {"note": "I run TikTok traffic"})
    assert response.status_code == 302
    joined = Participation.get(Participation.offer == offer.id)
    assert (joined.status, joined.note) == ("pending", "I run TikTok traffic")
    assert joined.ref_code not in browser.get("/marketplace/nocturna").get_data(as_text=True)
    accounts.set_participation_status(joined, "approved")
    page = browser.get("/marketplace/nocturna").get_data(as_text=True)
    assert joined.ref_code in page and f"/r?ref={joined.ref_code}" in page


def test_an_offer_on_automatic_approval_approves_at_once(browser, newcomer):
    offer, _ = newcomer
    offer.approval = "auto"
    offer.save()
    post_form(browser, "/marketplace/nocturna", {"note": ""})
    assert Participation.get(Participation.offer == offer.id).status == "approved"


def test_applying_twice_writes_one_application(browser, newcomer):
    offer, _ = newcomer
    post_form(browser, "/marketplace/nocturna", {"note": "one"})
    post_form(browser, "/marketplace/nocturna", {"note": "two"})
    assert [p.note for p in Participation.select().where(Participation.offer == offer.id)] == ["one"]


def test_the_link_builder_puts_the_trackers_macro_sub_ids_and_an_ad_platforms_click_id_in_the_link(browser, people):
    log_in(browser, "aff@example.com")
    ref = Participation.get(Participation.affiliate == people["affiliate"].id).ref_code
    page = browser.get(
        f"/offers?ref={ref}&preset=keitaro&s1=fb ads&s2=&ad_id=ttclid&ad_macro=__CLICKID__&fbclid={{fbclid}}"
    ).get_data(as_text=True)
    link = re.search(r'id="built" readonly value="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert (
        link == f"http://127.0.0.1:8000/r?ref={ref}&clickid={{subid}}&s1=fb%20ads&fbclid={{fbclid}}&ttclid=__CLICKID__"
    )


def test_a_click_and_a_sale_show_on_the_dashboard_the_stats_page_and_its_csv(browser, people, affnet_network):
    click_id = click_id_of(click(browser, affnet_network.ref, s1="adset-7"))
    assert ingest(browser, affnet_network, "conversion", sale_body(click_id)).status_code == 201
    log_in(browser, "aff@example.com")
    dashboard = browser.get("/dashboard").get_data(as_text=True)
    assert "8.70 USD" in dashboard and "<svg" in dashboard
    stats = browser.get("/stats?group_by=sub1").get_data(as_text=True)
    assert "adset-7" in stats and "8.70 USD" in stats
    download = browser.get("/stats.csv?group_by=sub1")
    assert download.mimetype == "text/csv" and "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0]["sub1"] == "adset-7" and rows[0]["sales"] == "1" and rows[0]["commission_USD"] == "8.70"


def test_another_affiliates_sales_are_not_in_my_stats(browser, people, affnet_network):
    click_id = click_id_of(click(browser, affnet_network.ref, s1="not-yours"))
    ingest(browser, affnet_network, "conversion", sale_body(click_id))
    log_in(browser, "other@example.com")
    assert "not-yours" not in browser.get("/stats?group_by=sub1").get_data(as_text=True)
    assert "not-yours" not in browser.get("/stats.csv?group_by=sub1").get_data(as_text=True)


def test_a_token_made_on_the_page_is_shown_once_and_pulls_the_stats_api(browser, people, affnet_network):
    click_id = click_id_of(click(browser, affnet_network.ref))
    ingest(browser, affnet_network, "conversion", sale_body(click_id, payment="pi_page"))
    log_in(browser, "aff@example.com")
    made = post_form(browser, "/tokens", {"name": "Keitaro"})
    token = re.search(r'id="made" readonly value="([^"]+)"', made.get_data(as_text=True)).group(1)
    assert token not in browser.get("/tokens").get_data(as_text=True), "shown once"
    pulled = browser.get("/api/affiliate/stats-api", query_string={"token": token, "format": "json"}).get_json()
    assert [row["click_id"] for row in pulled] == [click_id]


def test_a_revoked_token_stops_at_once(browser, people):
    log_in(browser, "aff@example.com")
    made = post_form(browser, "/tokens", {"name": "Binom"}).get_data(as_text=True)
    token = re.search(r'id="made" readonly value="([^"]+)"', made).group(1)
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', made).group(1)
    browser.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(browser, "/tokens")})
    assert browser.get("/api/affiliate/stats-api", query_string={"token": token}).status_code == 401


def test_a_bad_date_on_the_stats_page_says_so_and_shows_no_table(browser, people):
    log_in(browser, "aff@example.com")
    page = browser.get("/stats?from=yesterday").get_data(as_text=True)
    assert "must be a date" in page and "<table" not in page


def test_the_dashboard_counts_today_7_and_30_days(browser, people, affnet_network, affnet_clock):
    start = affnet_clock.now
    for days_ago in (0, 3, 20, 40):
        affnet_clock.set(start - timedelta(days=days_ago))
        click(browser, affnet_network.ref)
    affnet_clock.set(start)
    log_in(browser, "aff@example.com")
    page = browser.get("/dashboard").get_data(as_text=True)
    clicks = re.findall(r"<dt>Clicks</dt><dd>(\d+)</dd>", page)
    assert clicks == ["1", "2", "3"]
