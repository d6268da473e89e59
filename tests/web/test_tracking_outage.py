"""SPEC section 1 and DESIGN's data flow: the click path while the database
does not answer, and click values the database could refuse."""

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from peewee import InterfaceError, OperationalError

from affnet.core.network import accounts
from affnet.core.storage import cache
from affnet.core.clicks import tracking
from affnet.core.storage.db import db
from affnet.core.storage.models import Click, Participation
from affnet.testing import click, load_clicks

PHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"}


@contextmanager
def database_down(monkeypatch, error=None):
    """Every statement and every new connection fails as they do while the
    server is stopped; returns a list that counts the statements tried."""
    error = error or OperationalError("could not connect to server: Connection refused")
    tried = []

    def fail(*args, **kwargs):
        tried.append(args[:1])
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(db.obj, "execute_sql", fail)
        patch.setattr(db.obj, "_connect", fail)
        yield tried


def test_a_known_refcode_is_redirected_and_its_click_spooled_while_the_database_is_down(
    affnet_app, affnet_client, affnet_network, monkeypatch
):
    assert click(affnet_client, affnet_network.ref).status_code == 302  # the route is known from now on
    for error in (
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ):
        with database_down(monkeypatch, error):
            monkeypatch.setattr(cache, "RETRY_SECONDS", 0)  # every click tries the database again
            response = affnet_client.get(f"/r?ref={affnet_network.ref}&s1=outage", headers=PHONE)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.netloc == "susurra.example"
        click_id = parse_qs(location.query)["click_id"][0]
        assert "HttpOnly" in response.headers["Set-Cookie"]
        load_clicks(affnet_app)  # the database is back
        assert Click.get(Click.click_id == click_id).s1 == "outage"


def test_an_unknown_refcode_gets_the_404_page_while_the_database_is_down(
    affnet_app, affnet_client, affnet_network, monkeypatch
):
    with database_down(monkeypatch):
        response = affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    load_clicks(affnet_app)
    assert Click.select().count() == 0


@pytest.mark.parametrize("affnet_config", [{"tracking.fallback_url": "https://network.example/offers"}])
def test_an_unknown_refcode_goes_to_the_fallback_url_while_the_database_is_down(
    affnet_client, affnet_network, monkeypatch
):
    with database_down(monkeypatch):
        response = affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://network.example/offers"


def test_a_database_that_is_down_is_asked_once_a_second_not_on_every_click(affnet_client, affnet_network, monkeypatch):
    assert click(affnet_client, affnet_network.ref).status_code == 302
    with database_down(monkeypatch) as tried:
        answers = [affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE).status_code for _ in range(20)]
    assert answers == [302] * 20
    assert len(tried) == 1


def test_routes_are_loaded_again_once_the_database_is_back(affnet_client, affnet_network, monkeypatch):
    assert click(affnet_client, affnet_network.ref).status_code == 302
    monkeypatch.setattr(cache, "RETRY_SECONDS", 0)
    with database_down(monkeypatch):
        assert affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE).status_code == 302
    # paused behind this process's back (as on another server): the next load must see it
    Participation.update(status="paused").where(Participation.id == affnet_network.participation.id).execute()
    assert affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE).status_code == 404


def test_a_nul_in_any_click_value_is_dropped_and_the_click_is_stored(affnet_app, affnet_client, affnet_network):
    subs = {f"s{n}": f"a%00{n}" for n in range(1, 11)}
    query = "&".join(
        [f"ref={affnet_network.ref}", "fbclid=IwAR%00x", "clickid=kt%00"]
        + [f"{name}={value}" for name, value in subs.items()]
    )
    response = affnet_client.get(
        f"/r?{query}", headers={"User-Agent": "Mozilla/5.0\x00x", "Referer": "https://ads.example/\x00"}
    )
    assert response.status_code == 302
    load_clicks(affnet_app)
    stored = Click.get()
    assert [getattr(stored, f"s{n}") for n in range(1, 11)] == [f"a{n}" for n in range(1, 11)]
    assert (stored.fbclid, stored.clickid) == ("IwARx", "kt")
    assert (stored.user_agent, stored.referer) == ("Mozilla/5.0x", "https://ads.example/")


@pytest.mark.parametrize("ref", ["a%00b", "%00", "a%0Ab", "a%20b", "%ED%A0%80", "x" * 65])
def test_a_refcode_with_characters_no_refcode_has_answers_404(affnet_app, affnet_client, affnet_network, ref):
    response = affnet_client.get(f"/r?ref={ref}", headers=PHONE)
    assert response.status_code == 404
    load_clicks(affnet_app)
    assert Click.select().count() == 0


@pytest.mark.parametrize(
    "cookie, unique",
    [
        ("xaffnet_{ref}=abc", True),
        ("affnet_{ref}x=abc", True),
        ("other=affnet_{ref}=abc", True),
        ("affnet_{ref}=abc", False),
        ("a=1; affnet_{ref}=abc", False),
        ("a=1;affnet_{ref}=abc", False),
    ],
)
def test_a_click_is_unique_unless_the_cookie_of_its_refcode_itself_is_sent(affnet_app, affnet_network, cookie, unique):
    affnet_app.test_client(use_cookies=False).get(
        f"/r?ref={affnet_network.ref}", headers={**PHONE, "Cookie": cookie.format(ref=affnet_network.ref)}
    )
    load_clicks(affnet_app)
    assert Click.get().is_unique is unique


def test_has_cookie_finds_only_the_named_cookie():
    assert tracking.has_cookie("affnet_R=1", "affnet_R")
    assert not tracking.has_cookie("xaffnet_R=1", "affnet_R")
    assert not tracking.has_cookie(None, "affnet_R")
    assert not tracking.has_cookie("affnet_R", "affnet_R")


def test_pausing_a_participation_forgets_its_last_known_route(affnet_client, affnet_network, monkeypatch):
    assert click(affnet_client, affnet_network.ref).status_code == 302
    accounts.set_participation_status(affnet_network.participation, "paused")
    with database_down(monkeypatch):
        assert affnet_client.get(f"/r?ref={affnet_network.ref}", headers=PHONE).status_code == 404
