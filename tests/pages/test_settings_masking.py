"""A postback URL with credentials in it is shown masked (the page, its form, a test send, the audit log),
and a form sent back with the masks keeps the saved credentials."""

import html

import affnet_keitaro.plugin as keitaro
import pytest

from affnet.core.deliveries import setting_versions
from affnet.testing import FakeReceiver

from .conftest import csrf_of, log_in

PASSWORD = "pa55-w0rd-0042"
API_KEY = "k3y-0042-secret"


@pytest.fixture
def tracker():
    with FakeReceiver([(200, {}, "Success")]) as server:
        yield server


@pytest.fixture
def affnet_plugins():
    return [("keitaro", keitaro)]


@pytest.fixture
def affnet_config():
    return {"deliveries.allow_private_targets": True}


def save(browser, data):
    return browser.post(
        "/settings/postback", data={"csrf_token": csrf_of(browser, "/settings/postback"), "save": "1", **data}
    )


def page(browser, path="/settings/postback") -> str:
    return html.unescape(browser.get(path).get_data(as_text=True))


def saved_url(affiliate) -> str:
    newest = setting_versions.history("postback", affiliate.id, None)[0]
    return setting_versions.decrypt_values(newest.values)["url"]


def test_the_settings_page_shows_a_postback_url_masked_and_keeps_its_credentials_on_a_save(
    browser, people, tracker, affnet_network
):
    url = f"http://kt:{PASSWORD}@{tracker.base[7:]}/pb?subid={{clickid}}&api_key={API_KEY}"
    log_in(browser, "aff@example.com")
    assert save(browser, {"url": url}).status_code == 302
    shown = page(browser)
    assert PASSWORD not in shown and API_KEY not in shown
    assert f"kt:***@{tracker.base[7:]}/pb?subid={{clickid}}&api_key=***" in shown, "masked, not hidden"

    assert (
        save(browser, {"url": f"http://kt:***@{tracker.base[7:]}/v2?subid={{clickid}}&api_key=***"}).status_code == 302
    )
    assert saved_url(people["affiliate"]) == url.replace("/pb?", "/v2?"), "the masks kept the saved credentials"
    audit = page(browser, "/audit")
    assert "setting.postback" in audit and PASSWORD not in audit and API_KEY not in audit


def test_a_test_send_of_the_form_as_shown_reaches_the_real_url_and_shows_it_masked(
    browser, people, tracker, affnet_network
):
    url = f"http://kt:{PASSWORD}@{tracker.base[7:]}/pb?subid={{clickid}}&api_key={API_KEY}"
    log_in(browser, "aff@example.com")
    save(browser, {"url": url})
    shown = f"http://kt:***@{tracker.base[7:]}/pb?subid={{clickid}}&api_key=***"
    token = csrf_of(browser, "/settings/postback")
    answer = browser.post("/settings/postback", data={"csrf_token": token, "send_test": "1", "url": shown})
    result = html.unescape(answer.get_data(as_text=True))
    assert tracker.requests[0]["query"]["api_key"] == API_KEY, "the tracker got the real URL"
    assert "Success" in result and f"kt:***@{tracker.base[7:]}/pb?subid=" in result
    assert PASSWORD not in result and API_KEY not in result
    assert PASSWORD not in page(browser, "/deliveries") and API_KEY not in page(browser, "/deliveries")
