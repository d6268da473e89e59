"""The plugin manual's complete conversions sender (docs/examples/tiktok_events.py,
at most 50 lines, on ``affnet.plugins.send_batches``) works end to end against
a fake Events API: a click with a ttclid, a sale, the worker sends it."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import Delivery, DeliveryAttempt
from affnet.testing import FakeReceiver, click, click_id_of, ingest, sale_body

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "tiktok_events.py"
TOKEN = "tt-secret-token-0123456789abcdef"
OK = (200, {"Content-Type": "application/json"}, '{"code": 0, "message": "OK", "request_id": "r1", "data": {}}')


def _load():
    spec = importlib.util.spec_from_file_location("affnet_tutorial_tiktok_events", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiktok = _load()


@pytest.fixture
def events_api():
    with FakeReceiver([OK]) as receiver:
        yield receiver


@pytest.fixture
def affnet_plugins():
    return [("tiktok_events", tiktok)]


@pytest.fixture
def affnet_config(events_api):
    return {
        "deliveries.allow_private_targets": True,
        "plugin.tiktok_events": {"api_url": events_api.base + "/open_api/v1.3/event/track/"},
    }


@pytest.fixture
def pixel(affnet_network):
    setting_versions.save(tiktok.KIND, affnet_network.affiliate, {"pixel_code": "C4PIXEL", "access_token": TOKEN})


def _sale(affnet_client, affnet_network, payment, **link):
    click_id = click_id_of(click(affnet_client, affnet_network.ref, **link))
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment=payment))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["txid"]


def test_the_tutorial_sender_is_at_most_50_lines_and_the_manual_shows_it_whole():
    source = EXAMPLE.read_text()
    assert len(source.splitlines()) <= 50
    manual = (ROOT / "docs" / "plugins.md").read_text()
    shown = re.search(r"```python\n(\"\"\"Leads and sales to the affiliate's TikTok.*?)```", manual, re.DOTALL)
    assert shown and shown.group(1) == source


def test_a_sale_with_a_ttclid_reaches_the_events_api_with_its_token_in_a_header(
    affnet_client, affnet_network, affnet_worker, events_api, pixel
):
    txid = _sale(affnet_client, affnet_network, "pi_tt", ttclid="E.C.P.tiktok-click", s1="ad-9")
    affnet_worker.run_once()
    [request] = events_api.requests
    assert request["headers"]["Access-Token"] == TOKEN
    body = json.loads(request["body"])
    assert body["event_source_id"] == "C4PIXEL"
    [event] = body["data"]
    assert (event["event"], event["event_id"], event["user"]) == ("Purchase", txid, {"ttclid": "E.C.P.tiktok-click"})
    assert event["properties"] == {"value": "29.00", "currency": "USD"}
    assert Delivery.get(Delivery.kind == "tiktok_events").status == "sent"
    assert all(TOKEN not in f"{a.url} {a.error} {a.response_excerpt}" for a in DeliveryAttempt.select())


def test_a_click_without_a_ttclid_sends_nothing(affnet_client, affnet_network, affnet_worker, events_api, pixel):
    _sale(affnet_client, affnet_network, "pi_plain", gclid="Cj0-google")
    affnet_worker.run_once()
    assert events_api.requests == [] and not Delivery.select().where(Delivery.kind == "tiktok_events").exists()


def test_a_refusal_in_a_200_answer_fails_and_a_429_is_retried_after_its_delay(
    affnet_client, affnet_network, affnet_worker, events_api, pixel
):
    events_api.answer_next((200, {}, f'{{"code": 40002, "message": "invalid token {TOKEN}"}}'))
    _sale(affnet_client, affnet_network, "pi_refused", ttclid="tt-1")
    affnet_worker.run_once()
    refused = DeliveryAttempt.select().order_by(DeliveryAttempt.id.desc()).first()
    assert refused.outcome == "failed" and "40002" in refused.error and TOKEN not in refused.error
    events_api.answer_next((429, {"Retry-After": "120"}, "slow down"))
    _sale(affnet_client, affnet_network, "pi_later", ttclid="tt-2")
    affnet_worker.run_once()
    later = Delivery.select().where(Delivery.kind == "tiktok_events").order_by(Delivery.id.desc()).first()
    tried = DeliveryAttempt.select().where(DeliveryAttempt.delivery == later).get()
    assert (later.status, tried.outcome, tried.status_code) == ("pending", "retry", 429)
    assert 115 <= (later.next_attempt_at - tried.at).total_seconds() <= 125
