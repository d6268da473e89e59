"""Rate limits (one process): per token on the stats and report APIs, per offer key on ingest, per address on
clicks (flagged, never refused); each a network policy the operator may change on the settings page."""

from datetime import datetime, timedelta

import pytest

from affnet.core.network import api_tokens, policy
from affnet.core.storage.models import Click
from affnet.testing import click, ingest, load_clicks, sale_body

STATS = "/api/affiliate/stats-api"
REPORT = "/api/affiliate/report"


@pytest.fixture
def token(affnet_network):
    return api_tokens.create_token(affnet_network.affiliate, "Keitaro")[1]


@pytest.mark.parametrize("affnet_config", [{"stats_api.rate_limit": "3 per minute"}])
def test_stats_and_report_apis_over_the_limit_per_token_answer_429_with_retry_after(affnet_client, token):
    answers = [affnet_client.get(url, query_string={"token": token}) for url in (STATS, REPORT, STATS, REPORT)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert answers[-1].get_json()["error"] == "over the rate limit, slow down"


@pytest.mark.parametrize("affnet_config", [{"stats_api.rate_limit": "2 per minute"}])
def test_each_stats_token_has_a_limit_of_its_own(affnet_client, affnet_network, token):
    other = api_tokens.create_token(affnet_network.affiliate, "Binom")[1]
    codes = [affnet_client.get(STATS, headers={"Authorization": f"Bearer {t}"}).status_code for t in [token] * 3]
    assert codes == [200, 200, 429]
    assert affnet_client.get(STATS, headers={"Authorization": f"Bearer {other}"}).status_code == 200


@pytest.mark.parametrize("affnet_config", [{"stats_api.rate_limit": "2 per minute"}])
def test_guessed_stats_tokens_count_against_the_limit_too(affnet_client, token):
    codes = [affnet_client.get(STATS, query_string={"token": "st_guess"}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


@pytest.mark.parametrize("affnet_config", [{"ingest.rate_limit": "2 per minute"}])
def test_ingest_over_the_limit_answers_429_with_retry_after_and_records_nothing(affnet_client, affnet_network):
    answers = [ingest(affnet_client, affnet_network, "conversion", sale_body(payment=f"pi_{n}")) for n in range(3)]
    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


@pytest.mark.parametrize("affnet_config", [{"stats_api.rate_limit": "1 per minute"}])
def test_a_limit_saved_on_the_settings_page_is_in_force_at_once(affnet_app, affnet_client, token):
    policy.save(affnet_app.extensions["affnet"].settings, {"stats_api.rate_limit": "3 per minute"})
    codes = [affnet_client.get(STATS, query_string={"token": token}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("affnet_config", [{"tracking.click_rate_limit": "3 per minute"}])
def test_an_address_over_the_click_limit_is_still_redirected_and_its_clicks_flagged(affnet_client, affnet_network):
    answers = [click(affnet_client, affnet_network.ref, s1=f"n{n}") for n in range(5)]
    assert [answer.status_code for answer in answers] == [302] * 5
    clicks = Click.select().order_by(Click.s1)
    assert [(c.s1, c.is_over_limit, c.is_unique) for c in clicks] == [
        ("n0", False, True),
        ("n1", False, False),  # the cookie of n0 came back: not unique, but not over the limit
        ("n2", False, False),
        ("n3", True, False),
        ("n4", True, False),
    ]


@pytest.mark.parametrize("affnet_config", [{"tracking.click_rate_limit": "2 per minute"}])
def test_other_addresses_are_not_flagged_for_one_address_over_the_limit(affnet_app, affnet_network):
    client = affnet_app.test_client()
    for n in range(3):
        client.get(f"/r?ref={affnet_network.ref}&s1=busy{n}", environ_base={"REMOTE_ADDR": "198.51.100.1"})
    affnet_app.test_client().get(f"/r?ref={affnet_network.ref}&s1=calm", environ_base={"REMOTE_ADDR": "198.51.100.2"})
    load_clicks(affnet_app)
    flagged = {c.s1: c.is_over_limit for c in Click.select()}
    assert flagged == {"busy0": False, "busy1": False, "busy2": True, "calm": False}


@pytest.mark.parametrize("affnet_config", [{"tracking.click_rate_limit": "2 per minute"}])
def test_clicks_loaded_late_count_in_the_minute_they_were_made(affnet_app, affnet_network, affnet_clock):
    """A backlog (the database was down) is loaded at once: its clicks are counted in their own minutes."""
    start = datetime(2026, 6, 1, 9, 0, 30)
    for minute in range(4):
        affnet_clock.set(start + timedelta(minutes=minute))
        affnet_app.test_client().get(f"/r?ref={affnet_network.ref}&s1=m{minute}")
    affnet_clock.set(start + timedelta(minutes=30))
    load_clicks(affnet_app)
    assert not Click.select().where(Click.is_over_limit).exists()
