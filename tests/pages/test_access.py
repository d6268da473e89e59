"""Every page as every role and as another owner: a visitor is sent to log in, another role gets 403,
another affiliate's ids find nothing (404), and every POST without a valid CSRF token is refused."""

import re

import pytest

from affnet.core.network import accounts, api_tokens

from .conftest import log_in

# Each page of an affiliate, by method and path; {ref} and {token} are the affiliate's own.
AFFILIATE_PAGES = [
    ("GET", "/dashboard"),
    ("GET", "/marketplace"),
    ("GET", "/marketplace/susurra"),
    ("POST", "/marketplace/susurra"),
    ("GET", "/offers"),
    ("GET", "/offers?ref={ref}"),
    ("GET", "/stats"),
    ("GET", "/stats.csv"),
    ("GET", "/tokens"),
    ("POST", "/tokens"),
    ("POST", "/tokens/{token}/revoke"),
    ("GET", "/settings/echo_test"),
    ("GET", "/settings/echo_test?ref={ref}"),
    ("POST", "/settings/echo_test"),
    ("GET", "/deliveries"),
    ("POST", "/deliveries/{delivery}/resend"),
    ("GET", "/payouts"),
    ("POST", "/payouts"),
]
# Each page of the operator; {week} and {payout} need not exist: the role is checked first.
ADMIN_PAGES = [
    ("GET", "/admin"),
    ("GET", "/admin/payouts"),
    ("POST", "/admin/payouts/run"),
    ("GET", "/admin/payouts/{week}"),
    ("GET", "/admin/payouts/{week}.csv"),
    ("POST", "/admin/payouts/{week}/approve"),
    ("POST", "/admin/payouts/{week}/send"),
    ("POST", "/admin/payouts/{week}/import"),
    ("POST", "/admin/payouts/transfers/usdt"),
    ("POST", "/admin/payouts/{payout}/approve"),
    ("POST", "/admin/payouts/{payout}/cancel"),
    ("POST", "/admin/payouts/{payout}/reference"),
    ("GET", "/admin/users"),
    ("GET", "/admin/users?state=waiting&role=affiliate"),
    ("POST", "/admin/users/{user}/approve"),
    ("POST", "/admin/users/{user}/deactivate"),
    ("POST", "/admin/users/{user}/reactivate"),
    ("POST", "/admin/users/{user}/role"),
    ("POST", "/admin/users/{user}/reset-link"),
    ("POST", "/admin/users/{user}/two-factor-reset"),
    ("GET", "/admin/offers"),
    ("GET", "/admin/participations"),
    ("GET", "/admin/participations?status=pending&offer={slug}"),
    ("POST", "/admin/participations/{participation}/status"),
    ("GET", "/admin/deliveries"),
    ("GET", "/admin/deliveries/{host}"),
    ("POST", "/admin/deliveries/{host}/retry"),
    ("POST", "/admin/deliveries/{delivery}/retry"),
    ("GET", "/admin/settings"),
    ("POST", "/admin/settings"),
    ("POST", "/admin/settings/reset"),
    ("GET", "/admin/plugins"),
]


# Each page of a product owner; {slug} is the owner's own offer (susurra), {ref} an affiliate's refCode on it.
OWNER_PAGES = [
    ("GET", "/owner/offers"),
    ("GET", "/owner/offers/new"),
    ("POST", "/owner/offers/new"),
    ("GET", "/owner/offers/{slug}"),
    ("POST", "/owner/offers/{slug}"),
    ("POST", "/owner/offers/{slug}/pause"),
    ("POST", "/owner/offers/{slug}/resume"),
    ("POST", "/owner/offers/{slug}/key"),
    ("GET", "/owner/offers/{slug}/applications"),
    ("POST", "/owner/offers/{slug}/applications/{participation}"),
    ("GET", "/owner/offers/{slug}/conversions"),
    ("GET", "/owner/offers/{slug}/conversions.csv"),
    ("POST", "/owner/offers/{slug}/conversions/test"),
    ("GET", "/owner/offers/{slug}/affiliates"),
    ("GET", "/owner/offers/{slug}/integrations/{integration}"),
    ("POST", "/owner/offers/{slug}/integrations/{integration}/secret"),
]


@pytest.fixture
def affnet_database_url(tmp_path):
    """Who may reach a page does not depend on the database: these checks run on SQLite (every page's
    own tests run on both)."""
    return f"sqlite:///{tmp_path}/affnet.db"


@pytest.fixture
def affnet_plugins():
    import affnet_echo_test.plugin as echo
    import affnet_stripe_ingest.plugin as stripe  # its integration page is walked too

    return [("echo_test", echo), ("stripe_ingest", stripe)]


EVERY_ROLE_PAGES = [
    ("GET", "/account"),
    ("POST", "/account"),
    ("POST", "/logout"),
    ("GET", "/audit"),
    ("GET", "/account/two-factor"),
    ("POST", "/account/two-factor/start"),
    ("POST", "/account/two-factor/enable"),
    ("POST", "/account/two-factor/recovery-codes"),
    ("POST", "/account/two-factor/disable"),
]


# Each account of the ``people`` fixture, with the routes its role reaches.
PAGES_OF_ACCOUNT = {
    "aff@example.com": AFFILIATE_PAGES + EVERY_ROLE_PAGES,
    "owner@example.com": OWNER_PAGES,
    "root@example.com": ADMIN_PAGES,
}


def _affiliate_ids(people):
    _, token = api_tokens.create_token(people["affiliate"], "mine")
    mine = api_tokens.list_tokens(people["affiliate"])[0]
    from affnet.core.storage.models import Participation

    ref = Participation.get(Participation.affiliate == people["affiliate"].id).ref_code
    return {
        "ref": ref,
        "token": mine.id,
        "delivery": 1,
        "week": "2026-W01",
        "payout": 1,
        "slug": "susurra",
        "user": people["other"].id,
        "participation": people["other_participation"].id,
        "host": "tracker.example",
        "integration": "stripe",
    }


def _request(client, method, path):
    return client.get(path) if method == "GET" else client.post(path, data={})


@pytest.mark.parametrize("method, path", AFFILIATE_PAGES + OWNER_PAGES + ADMIN_PAGES + EVERY_ROLE_PAGES)
def test_a_visitor_is_sent_to_log_in_or_refused(browser, people, method, path):
    response = _request(browser, method, path.format(**_affiliate_ids(people)))
    if method == "GET":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code in (302, 400)
        assert response.status_code == 400 or "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["advertiser", "admin"])
@pytest.mark.parametrize("method, path", [page for page in AFFILIATE_PAGES if page[0] == "GET"])
def test_another_role_gets_403_on_an_affiliates_page(browser, people, role, method, path):
    ids = _affiliate_ids(people)
    email = {"advertiser": "owner@example.com", "admin": "root@example.com"}[role]
    log_in(browser, email)
    assert _request(browser, method, path.format(**ids)).status_code == 403


@pytest.mark.parametrize("role", ["affiliate", "advertiser"])
@pytest.mark.parametrize("method, path", ADMIN_PAGES)
def test_another_role_gets_403_on_an_operators_page(browser, people, role, method, path):
    ids = _affiliate_ids(people)
    log_in(browser, {"affiliate": "aff@example.com", "advertiser": "owner@example.com"}[role])
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/account").get_data(as_text=True)).group(1)
    response = (
        browser.get(path.format(**ids))
        if method == "GET"
        else browser.post(path.format(**ids), data={"csrf_token": token})
    )
    assert response.status_code == 403


def _csrf_token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").get_data(as_text=True)).group(1)


@pytest.mark.parametrize("method, path", OWNER_PAGES)
def test_an_affiliate_gets_403_on_a_product_owners_page(browser, people, method, path):
    ids = _affiliate_ids(people)
    log_in(browser, "aff@example.com")
    data = {} if method == "GET" else {"csrf_token": _csrf_token(browser)}
    response = browser.get(path.format(**ids)) if method == "GET" else browser.post(path.format(**ids), data=data)
    assert response.status_code == 403


@pytest.mark.parametrize("method, path", [page for page in OWNER_PAGES if "{" in page[1]])
def test_another_owner_finds_nothing_at_an_offers_pages(browser, people, method, path):
    """A second product owner, logged in, reaches none of the first owner's offer pages (404)."""
    accounts.create_user("owner2@example.com", "advertiser", password="a-good-password-42")
    ids = _affiliate_ids(people)
    log_in(browser, "owner2@example.com")
    data = {} if method == "GET" else {"csrf_token": _csrf_token(browser)}
    response = browser.get(path.format(**ids)) if method == "GET" else browser.post(path.format(**ids), data=data)
    assert response.status_code == 404


def test_every_page_route_is_walked_here(affnet_app):
    every = AFFILIATE_PAGES + OWNER_PAGES + ADMIN_PAGES + EVERY_ROLE_PAGES
    walked = {re.sub(r"\{\w+\}", "<>", path.split("?")[0]) for _, path in every}
    walked = {path.replace("/susurra", "/<>").replace("/echo_test", "/<>").replace("/usdt", "/<>") for path in walked}
    page_blueprints = {
        "affiliate",
        "delivery_settings",
        "payouts",
        "auth",
        "owner",
        "operator",
        "audit_log",
        "integrations",
    }
    public = {"/login", "/login/code", "/signup", "/forgot", "/reset/<>"}
    routes = {
        re.sub(r"<[^>]+>", "<>", rule.rule)
        for rule in affnet_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in page_blueprints
    }
    assert routes - public - walked == set(), "a page no role test walks"


def test_an_affiliate_cannot_build_a_link_with_another_affiliates_ref_code(browser, people):
    log_in(browser, "other@example.com")
    ids = _affiliate_ids(people)
    assert browser.get(f"/offers?ref={ids['ref']}").status_code == 404
    assert ids["ref"] not in browser.get("/offers").get_data(as_text=True)


def test_an_affiliate_cannot_revoke_another_affiliates_token(browser, people):
    ids = _affiliate_ids(people)
    log_in(browser, "other@example.com")
    page = browser.get("/tokens").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert browser.post(f"/tokens/{ids['token']}/revoke", data={"csrf_token": token}).status_code == 404
    assert api_tokens.list_tokens(people["affiliate"])[0].revoked_at is None


def test_stats_of_an_offer_the_affiliate_is_not_on_find_nothing(browser, people, affnet_network):
    from affnet.core.network import accounts

    private, _ = accounts.create_offer(affnet_network.advertiser, "Hidden", "https://hidden.example/")
    log_in(browser, "aff@example.com")
    assert browser.get("/stats?offer=hidden").status_code == 404
    assert browser.get("/stats.csv?offer=hidden").status_code == 404


def test_a_private_offer_is_not_in_the_marketplace_and_its_page_is_404(browser, people, affnet_network):
    from affnet.core.network import accounts

    private, _ = accounts.create_offer(affnet_network.advertiser, "Hidden", "https://hidden.example/")
    private.is_public = False
    private.save()
    log_in(browser, "other@example.com")
    assert "Hidden" not in browser.get("/marketplace").get_data(as_text=True)
    assert browser.get("/marketplace/hidden").status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [page for page in AFFILIATE_PAGES + OWNER_PAGES + ADMIN_PAGES + EVERY_ROLE_PAGES if page[0] == "POST"],
)
def test_every_form_refuses_a_post_without_a_valid_csrf_token(browser, people, method, path):
    ids = _affiliate_ids(people)
    email = "aff@example.com"
    if path.startswith("/admin/"):
        email = "root@example.com"
    elif path.startswith("/owner/"):
        email = "owner@example.com"
    log_in(browser, email)
    for data in ({}, {"csrf_token": "forged"}):
        assert browser.post(path.format(**ids), data=data).status_code == 400
    assert api_tokens.list_tokens(people["affiliate"])[0].revoked_at is None
