"""`affnet settings test`: the values tested are the newest saved version with
the pairs given laid over it, so a secret not typed again is kept."""

import json

import affnet_fb_capi.plugin as fb_capi
import pytest

from affnet.core.deliveries import setting_versions
from affnet.testing import FakeReceiver

TOKEN = "EAAB-saved-token-0123456789"


@pytest.fixture
def graph():
    with FakeReceiver([(200, {}, '{"events_received": 1, "messages": [], "fbtrace_id": "t1"}')]) as server:
        yield server


@pytest.fixture
def affnet_plugins():
    return [("fb_capi", fb_capi)]


@pytest.fixture
def affnet_config(graph):
    return {"plugin.fb_capi": {"graph_base_url": graph.base}}


def test_test_values_are_laid_over_the_saved_ones_and_a_secret_not_given_is_kept(affnet_cli, affnet_network, graph):
    setting_versions.save(
        fb_capi.PIXEL,
        affnet_network.affiliate,
        {"pixel_id": "1234567890", "access_token": TOKEN, "test_event_code": "TEST1"},
    )
    result = affnet_cli("settings", "test", "fb_capi", "--affiliate", "aff@example.com", "pixel_id=9876543210")
    assert result.exit_code == 0, result.output
    (request,) = graph.requests
    body = json.loads(request["body"])
    assert request["path"].endswith("/9876543210/events")
    assert (body["access_token"], body["test_event_code"]) == (TOKEN, "TEST1")


def test_without_pairs_the_saved_version_is_tested_as_it_is(affnet_cli, affnet_network, graph):
    setting_versions.save(
        fb_capi.PIXEL,
        affnet_network.affiliate,
        {"pixel_id": "1234567890", "access_token": TOKEN, "test_event_code": "TEST1"},
    )
    assert affnet_cli("settings", "test", "fb_capi", "--affiliate", "aff@example.com").exit_code == 0
    assert graph.requests[0]["path"].endswith("/1234567890/events")
