"""SPEC section 1: the tracking link ``GET /r``."""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from affnet.core.network import accounts
from affnet.core.storage.models import Click
from affnet.testing import click, click_id_of, load_clicks


def test_live_ref_redirects_302_to_the_landing_with_click_id(affnet_client, affnet_network):
    response = click(affnet_client, affnet_network.ref)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "susurra.example", "/start")
    query = parse_qs(location.query)
    assert query["lang"] == ["en"], "the landing's own parameters are kept"
    assert query["click_id"] == [Click.get().click_id]


def test_unknown_ref_answers_an_html_404(affnet_client, affnet_network):
    response = click(affnet_client, "nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    assert Click.select().count() == 0


def test_head_of_an_unknown_ref_answers_404_headers_without_a_body(affnet_app):
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/r", method="HEAD", query_string="ref=nope").get_environ()
    answered = []
    body = b"".join(affnet_app(environ, lambda status, headers: answered.append((status, dict(headers)))))
    ((status, headers),) = answered
    assert (status, body) == ("404 Not Found", b"")
    assert int(headers["Content-Length"]) > 0  # the length a GET's page has, as HEAD should say


@pytest.mark.parametrize("status", ["pending", "rejected", "paused"])
def test_unapproved_or_paused_ref_answers_404(affnet_client, affnet_network, status):
    accounts.set_participation_status(affnet_network.participation, status)
    assert click(affnet_client, affnet_network.ref).status_code == 404
    assert Click.select().count() == 0


def test_paused_offer_answers_404(affnet_client, affnet_network):
    accounts.set_offer_active(affnet_network.offer, False)
    response = click(affnet_client, affnet_network.ref)  # the spool is loaded after it
    assert response.status_code == 404
    assert Click.select().count() == 0, "no click is recorded for a paused offer"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("affnet_config", [{"tracking.fallback_url": "https://network.example/offers"}])
def test_unknown_ref_goes_to_the_operators_fallback_url_when_configured(affnet_client, affnet_network):
    response = click(affnet_client, "nope")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://network.example/offers"


def test_never_redirects_to_a_url_taken_from_the_request(affnet_client, affnet_network):
    evil = "https%3A%2F%2Fevil.example%2F"
    for params in ({"url": evil}, {"landing": evil}, {"redirect": evil}, {"next": evil}, {"s1": evil}):
        response = click(affnet_client, affnet_network.ref, **params)
        assert urlsplit(response.headers["Location"]).netloc == "susurra.example"
        assert click(affnet_client, "unknown", **params).status_code == 404


def test_click_records_subs_fbclid_clickid_ip_user_agent_and_referer(affnet_client, affnet_network):
    params = {f"s{n}": f"v{n}" for n in range(1, 11)}
    response = affnet_client.get(
        "/r",
        query_string={"ref": affnet_network.ref, "fbclid": "IwAR123", "clickid": "kt-987", **params},
        headers={"User-Agent": "Mozilla/5.0 Test", "Referer": "https://facebook.com/ad"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    load_clicks(affnet_client.application)
    row = Click.get(Click.click_id == click_id_of(response))
    assert [getattr(row, f"s{n}") for n in range(1, 11)] == [f"v{n}" for n in range(1, 11)]
    assert (row.fbclid, row.clickid, row.ip) == ("IwAR123", "kt-987", "198.51.100.7")
    assert (row.user_agent, row.referer) == ("Mozilla/5.0 Test", "https://facebook.com/ad")
    assert row.participation_id == affnet_network.participation.id
    assert row.created_at is not None


def test_first_visit_is_unique_and_a_return_with_the_cookie_is_not(affnet_client, affnet_network):
    first = click(affnet_client, affnet_network.ref)
    second = click(affnet_client, affnet_network.ref)
    assert Click.get(Click.click_id == click_id_of(first)).is_unique is True
    assert Click.get(Click.click_id == click_id_of(second)).is_unique is False


def test_cookie_of_another_participation_keeps_the_click_unique(affnet_client, affnet_network):
    other = affnet_network.add_affiliate("other@example.com")
    click(affnet_client, other.ref_code)
    response = click(affnet_client, affnet_network.ref)
    assert Click.get(Click.click_id == click_id_of(response)).is_unique is True


@pytest.mark.parametrize(
    "agent",
    [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "facebookexternalhit/1.1",
        "Mozilla/5.0 HeadlessChrome/120",
        "curl/8.0",
        "",
    ],
)
def test_bot_and_preview_agents_are_recorded_and_flagged(affnet_client, affnet_network, agent):
    response = click(affnet_client, affnet_network.ref, ua=agent)
    assert response.status_code == 302, "bots are redirected like people"
    assert Click.get(Click.click_id == click_id_of(response)).is_bot is True


def test_head_request_is_recorded_as_a_bot(affnet_client, affnet_network):
    response = affnet_client.head(f"/r?ref={affnet_network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 302
    load_clicks(affnet_client.application)
    assert Click.get().is_bot is True


def test_a_person_is_not_flagged_as_a_bot(affnet_client, affnet_network):
    click(affnet_client, affnet_network.ref)
    assert Click.get().is_bot is False


def test_click_id_has_at_least_96_random_bits_and_is_url_safe(affnet_client, affnet_network):
    ids = {click_id_of(click(affnet_client, affnet_network.ref)) for _ in range(50)}
    assert len(ids) == 50
    for value in ids:
        assert len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) * 8 >= 96
        assert all(ch.isalnum() or ch in "-_" for ch in value)


def test_cookie_holds_the_click_id_for_60_days_httponly_samesite_lax(affnet_client, affnet_network):
    response = click(affnet_client, affnet_network.ref)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"affnet_{affnet_network.ref}={click_id_of(response)};")
    assert f"Max-Age={60 * 86400}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "plain http: no Secure flag"


def test_cookie_window_follows_the_offer(affnet_client, affnet_network):
    affnet_network.offer.cookie_days = 30
    affnet_network.offer.save()
    assert f"Max-Age={30 * 86400}" in click(affnet_client, affnet_network.ref).headers["Set-Cookie"]


def test_cookie_is_secure_when_served_over_https(affnet_client, affnet_network):
    response = affnet_client.get(
        f"/r?ref={affnet_network.ref}", base_url="https://track.example", headers={"User-Agent": "Mozilla/5.0"}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_landing_click_id_already_present_is_replaced(affnet_client, affnet_network):
    affnet_network.offer.landing_url = "https://susurra.example/?click_id=old&x=1"
    affnet_network.offer.save()
    query = parse_qs(urlsplit(click(affnet_client, affnet_network.ref).headers["Location"]).query)
    assert query["x"] == ["1"] and query["click_id"] != ["old"] and len(query["click_id"]) == 1


@pytest.mark.parametrize("affnet_config", [{"cache_seconds": 5}])
def test_a_cached_route_is_dropped_at_once_when_its_participation_is_paused(affnet_client, affnet_network):
    assert click(affnet_client, affnet_network.ref).status_code == 302  # now cached
    accounts.set_participation_status(affnet_network.participation, "paused")
    assert click(affnet_client, affnet_network.ref).status_code == 404


@pytest.mark.parametrize("affnet_config", [{"cache_seconds": 5}])
def test_a_cached_route_answers_without_the_database(affnet_client, affnet_network):
    from affnet.core.storage.models import Participation

    assert click(affnet_client, affnet_network.ref).status_code == 302
    Participation.update(status="paused").where(Participation.id == affnet_network.participation.id).execute()
    assert click(affnet_client, affnet_network.ref).status_code == 302, "another server's change waits for the TTL"
