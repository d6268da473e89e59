"""The postback and pixel pages: save with the 24-hour rule, secrets write-only, a test that shows
the tracker's answer, the delivery log with resend; only the affiliate's own."""

import re

import affnet_fb_capi.plugin as fb_capi
import affnet_keitaro.plugin as keitaro
import pytest

from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import Delivery
from affnet.testing import FakeReceiver, assert_not_stored, click, click_id_of, ingest, sale_body

from .conftest import csrf_of, log_in

TOKEN = "EAAB-the-pixel-token-0123456789"


@pytest.fixture
def tracker():
    with FakeReceiver([(200, {}, "Success")]) as server:
        yield server


@pytest.fixture
def affnet_plugins():
    return [("keitaro", keitaro), ("fb_capi", fb_capi)]


@pytest.fixture
def affnet_config():
    return {"deliveries.allow_private_targets": True}


def save(browser, path, data):
    return browser.post(path, data={"csrf_token": csrf_of(browser, path), "save": "1", **data})


def test_the_first_postback_is_in_force_at_once_and_a_change_waits_24_hours(browser, people, tracker, affnet_network):
    log_in(browser, "aff@example.com")
    first = save(browser, "/settings/postback", {"url": f"{tracker.base}/postback?subid={{clickid}}&status={{status}}"})
    assert first.status_code == 302
    page = browser.get("/settings/postback").get_data(as_text=True)
    assert "In force" in page and "/postback?subid={clickid}" in page
    save(browser, "/settings/postback", {"url": f"{tracker.base}/v2?subid={{clickid}}"})
    page = browser.get("/settings/postback").get_data(as_text=True)
    assert "Pending" in page and "takes effect at" in page and "/v2?subid" in page
    click_id = click_id_of(click(browser, affnet_network.ref))
    ingest(browser, affnet_network, "conversion", sale_body(click_id))
    delivery = Delivery.get(Delivery.kind == "postback")
    assert setting_versions.history("postback", affnet_network.affiliate.id, None)[-1].id == delivery.setting_id


def test_the_test_button_shows_what_the_tracker_answered(browser, people, tracker):
    log_in(browser, "aff@example.com")
    path = "/settings/postback"
    page = browser.post(
        path,
        data={
            "csrf_token": csrf_of(browser, path),
            "send_test": "1",
            "url": f"{tracker.base}/postback?subid={{clickid}}",
        },
    ).get_data(as_text=True)
    assert "HTTP 200" in page and "Success" in page
    assert tracker.requests[0]["query"] == {"subid": "affnet-test", "test": "1"}


def test_a_pixel_token_is_write_only_and_kept_when_left_empty(browser, people):
    log_in(browser, "aff@example.com")
    save(browser, "/settings/fb_capi", {"pixel_id": "1234567890", "access_token": TOKEN})
    page = browser.get("/settings/fb_capi").get_data(as_text=True)
    assert TOKEN not in page and "…6789" in page
    save(browser, "/settings/fb_capi", {"pixel_id": "1234567890", "access_token": "", "test_event_code": "TEST9"})
    newest = setting_versions.history("fb_capi", people["affiliate"].id, None)[0]
    assert setting_versions.decrypt_values(newest.values)["access_token"] == TOKEN
    assert_not_stored(TOKEN)


def test_a_per_offer_setting_is_the_affiliates_own_offer_only(browser, people, tracker):
    other_ref = people["other_participation"].ref_code
    log_in(browser, "aff@example.com")
    assert browser.get(f"/settings/postback?ref={other_ref}").status_code == 404
    assert browser.get("/settings/no_such_kind").status_code == 404


def test_a_bad_value_is_refused_and_nothing_is_saved(browser, people):
    log_in(browser, "aff@example.com")
    page = save(browser, "/settings/postback", {"url": "ftp://nope"}).get_data(as_text=True)
    assert "url" in page and setting_versions.history("postback", people["affiliate"].id, None) == []


def test_the_delivery_log_shows_the_affiliates_deliveries_and_resends_its_own_only(
    browser, people, tracker, affnet_network, affnet_worker
):
    log_in(browser, "aff@example.com")
    save(browser, "/settings/postback", {"url": f"{tracker.base}/p?s={{clickid}}"})
    click_id = click_id_of(click(browser, affnet_network.ref))
    txid = ingest(browser, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    affnet_worker.run_once()
    page = browser.get("/deliveries").get_data(as_text=True)
    assert txid in page and "Success" in page
    delivery_id = re.search(r'action="/deliveries/(\d+)/resend"', page).group(1)
    token = csrf_of(browser, "/deliveries")
    assert browser.post(f"/deliveries/{delivery_id}/resend", data={"csrf_token": token}).status_code == 302
    assert Delivery.get_by_id(int(delivery_id)).status == "pending"
    log_in(other := browser.application.test_client(), "other@example.com")
    assert txid not in other.get("/deliveries").get_data(as_text=True)
    other_token = csrf_of(other, "/deliveries")
    assert other.post(f"/deliveries/{delivery_id}/resend", data={"csrf_token": other_token}).status_code == 404


def test_a_plugins_texts_show_in_the_pages_language(browser, people):
    log_in(browser, "aff@example.com")
    pixel = browser.get("/settings/fb_capi?lang=es").get_data(as_text=True)
    assert "Píxel de Facebook (API de conversiones)" in pixel and "ID del píxel" in pixel
    assert "Administrador de eventos, Eventos de prueba" in pixel, "a field's help too"
    assert "Postback a tu tracker" in pixel, "the menu names every kind in the page's language"
    refused = save(browser, "/settings/fb_capi?lang=es", {"pixel_id": "pixel-12", "access_token": TOKEN})
    assert "debe ser el número que el Administrador de eventos muestra" in refused.get_data(as_text=True)
    assert "Facebook pixel (Conversions API)" in browser.get("/settings/fb_capi?lang=en").get_data(as_text=True)
