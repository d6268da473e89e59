"""SPEC section 5 (own pixel) end to end: clicks and ingest calls in, the
worker out to a fake Graph API that checks each request like Meta."""

import calendar
import hashlib
import re
from datetime import datetime
from decimal import Decimal

import pytest

from affnet.core.deliveries import outbox, setting_versions
from affnet.plugins import ClickInfo, EventInfo, OfferInfo
from affnet.core.storage.models import Delivery, DeliveryAttempt
from affnet.testing import click_id_of, ingest, sale_body
from fb_capi_fake_graph import VALID_TOKEN, meta_error

PIXEL = "1234567890123"
OTHER_PIXEL = "9876543210987"
FBCLID = "IwAR2F4-Gq_fake_fbclid_0123456789"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"
IP = "203.0.113.9"


def seconds(moment: datetime) -> int:
    return calendar.timegm(moment.utctimetuple())


def save_pixel(services, network, participation=None, **values):
    values = {"pixel_id": PIXEL, "access_token": VALID_TOKEN, **values}
    return setting_versions.save(
        services.registry.kinds["fb_capi"], network.affiliate, values, participation=participation
    )


def fb_click(client, network, fbclid=FBCLID) -> str:
    response = client.get(
        "/r",
        query_string={"ref": network.ref, "fbclid": fbclid},
        headers={"User-Agent": UA},
        environ_base={"REMOTE_ADDR": IP},
    )
    return click_id_of(response)


def convert(client, network, event, click_id, **extra):
    body = {"click_id": click_id, "user_ref": "  Cus_ABC ", "event": event, **extra}
    response = ingest(client, network, "conversion", body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def test_lead_trial_sale_and_a_duplicate_sale_reach_meta_as_lead_starttrial_and_one_purchase(
    affnet_client, affnet_services, affnet_network, affnet_worker, affnet_clock, fake_graph
):
    save_pixel(affnet_services, affnet_network, test_event_code="TEST4321")
    click_time = affnet_clock.now.replace(microsecond=123456)
    affnet_clock.set(click_time)
    click_id = fb_click(affnet_client, affnet_network)
    times, answers = [], []
    for event in ("lead", "trial"):
        times.append(affnet_clock.advance(minutes=5))
        answers.append(convert(affnet_client, affnet_network, event, click_id))
    times.append(affnet_clock.advance(minutes=5))
    sale = sale_body(click_id, payment="pi_1", amount=29.0, user_ref="Cus_ABC")
    answers.append(ingest(affnet_client, affnet_network, "conversion", sale).get_json())
    affnet_clock.advance(minutes=1)
    duplicate = ingest(affnet_client, affnet_network, "conversion", sale).get_json()
    assert duplicate["duplicate"] is True and duplicate["txid"] == answers[2]["txid"]

    affnet_worker.run_once()

    assert len(fake_graph.received) == 1, "events of one pixel due together go in one request"
    request = fake_graph.received[0]
    assert (request.version, request.pixel_id) == ("v26.0", PIXEL)
    assert request.body["access_token"] == VALID_TOKEN
    assert request.body["test_event_code"] == "TEST4321"
    events = request.events
    assert [event["event_name"] for event in events] == ["Lead", "StartTrial", "Purchase"]
    assert [event["event_id"] for event in events] == [answer["txid"] for answer in answers]
    assert len({event["event_id"] for event in events}) == 3
    assert [event["event_time"] for event in events] == [seconds(moment) for moment in times]
    external_id = hashlib.sha256(b"cus_abc").hexdigest()
    for event in events:
        assert event["action_source"] == "website"
        assert event["event_source_url"] == "https://susurra.example/start?lang=en"
        assert event["user_data"] == {
            "fbc": f"fb.1.{seconds(click_time) * 1000 + 123}.{FBCLID}",
            "client_ip_address": IP,
            "client_user_agent": UA,
            "external_id": [external_id],
        }
    assert "custom_data" not in events[0] and "custom_data" not in events[1]
    assert events[2]["custom_data"] == {"value": Decimal("29.00"), "currency": "usd"}
    assert re.search(r'"value":29\.00[,}]', request.raw), "the value is a JSON number with the Decimal's exact digits"
    assert [d.status for d in Delivery.select().order_by(Delivery.id)] == ["sent", "sent", "sent"]
    affnet_worker.run_once()
    assert len(fake_graph.received) == 1, "nothing is sent twice"


def test_rebill_is_a_purchase_with_its_own_gross_amount_and_currency(
    affnet_client, affnet_services, affnet_network, affnet_worker, fake_graph
):
    save_pixel(affnet_services, affnet_network)
    click_id = fb_click(affnet_client, affnet_network)
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_1", amount=29.0))
    rebill = sale_body(None, payment="pi_2", amount="19.9900", event="rebill", currency="EUR", is_first_payment=False)
    assert ingest(affnet_client, affnet_network, "conversion", rebill).get_json()["attributed"] is True
    affnet_worker.run_once()
    purchases = fake_graph.received[0].events
    assert [(e["event_name"], e["custom_data"]) for e in purchases] == [
        ("Purchase", {"value": Decimal("29.00"), "currency": "usd"}),
        ("Purchase", {"value": Decimal("19.99"), "currency": "eur"}),
    ]
    assert "test_event_code" not in fake_graph.received[0].body, "no Test Event Code set, none sent"


@pytest.mark.parametrize("call", ["refund", "chargeback"])
def test_refunds_and_chargebacks_send_nothing_to_the_pixel(
    affnet_client, affnet_services, affnet_network, affnet_worker, fake_graph, call
):
    save_pixel(affnet_services, affnet_network)
    click_id = fb_click(affnet_client, affnet_network)
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_1"))
    affnet_worker.run_once()
    assert ingest(affnet_client, affnet_network, call, {"external_payment_id": "pi_1"}).status_code == 201
    affnet_worker.run_once()
    assert Delivery.select().count() == 1
    assert [e["event_name"] for r in fake_graph.received for e in r.events] == ["Purchase"]


def test_a_click_without_fbclid_sends_no_fbc(affnet_client, affnet_services, affnet_network, affnet_worker, fake_graph):
    save_pixel(affnet_services, affnet_network)
    response = affnet_client.get("/r", query_string={"ref": affnet_network.ref}, headers={"User-Agent": UA})
    convert(affnet_client, affnet_network, "lead", click_id_of(response))
    affnet_worker.run_once()
    user_data = fake_graph.received[0].events[0]["user_data"]
    assert "fbc" not in user_data and user_data["client_user_agent"] == UA


def test_an_affiliate_without_pixel_settings_gets_no_pixel_deliveries(
    affnet_client, affnet_network, affnet_worker, fake_graph
):
    convert(affnet_client, affnet_network, "lead", fb_click(affnet_client, affnet_network))
    affnet_worker.run_once()
    assert Delivery.select().count() == 0 and fake_graph.answered == []


def test_invalid_token_190_fails_for_good_with_a_clear_message_and_is_never_retried(
    affnet_client, affnet_services, affnet_network, affnet_worker, affnet_clock, fake_graph
):
    revoked = "EAAGrevokedTOKENthatMetaNoLongerAcceptsXYZ9"
    save_pixel(affnet_services, affnet_network, access_token=revoked)
    convert(affnet_client, affnet_network, "lead", fb_click(affnet_client, affnet_network))
    affnet_worker.run_once()
    assert fake_graph.answered == [400]
    delivery = Delivery.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "access token ending …XYZ9" in delivery.last_error and "new token" in delivery.last_error
    assert revoked not in delivery.last_error
    for _ in range(3):
        affnet_clock.advance(hours=7)
        affnet_worker.run_once()
    assert fake_graph.answered == [400], "a refused token is not tried again"


def test_5xx_is_retried_with_backoff_and_the_retry_reuses_the_event_id(
    affnet_client, affnet_services, affnet_network, affnet_worker, affnet_clock, fake_graph
):
    save_pixel(affnet_services, affnet_network)
    convert(affnet_client, affnet_network, "lead", fb_click(affnet_client, affnet_network))
    fake_graph.answer_next(503, meta_error("Service temporarily unavailable", 2, "OAuthException", is_transient=True))
    affnet_worker.run_once()
    delivery = Delivery.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > affnet_clock.now, "the retry waits (backoff)"
    affnet_worker.run_once()
    assert len(fake_graph.received) == 1, "not retried before its time"
    affnet_clock.advance(hours=1)
    affnet_worker.run_once()
    assert fake_graph.answered == [503, 200]
    first, second = fake_graph.received
    assert first.events[0]["event_id"] == second.events[0]["event_id"]
    assert Delivery.get().status == "sent"
    assert [a.outcome for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)] == ["retry", "sent"]


def test_events_older_than_7_days_are_not_sent_and_say_why(
    affnet_client, affnet_services, affnet_network, affnet_worker, affnet_clock, fake_graph
):
    save_pixel(affnet_services, affnet_network)
    click_id = fb_click(affnet_client, affnet_network)
    old = convert(affnet_client, affnet_network, "lead", click_id)
    affnet_clock.advance(days=7, hours=1)
    fresh = convert(affnet_client, affnet_network, "trial", click_id)
    affnet_worker.run_once()
    assert [e["event_id"] for r in fake_graph.received for e in r.events] == [fresh["txid"]], (
        "the old event is left out so Meta does not refuse the fresh one with it"
    )
    stale = Delivery.get(Delivery.payload.contains(old["txid"]))
    assert stale.status == "failed" and "7 days" in stale.last_error


def test_a_participations_own_pixel_overrides_the_affiliate_wide_one(
    affnet_client, affnet_services, affnet_network, affnet_worker, fake_graph
):
    save_pixel(affnet_services, affnet_network, pixel_id=OTHER_PIXEL)
    save_pixel(affnet_services, affnet_network, participation=affnet_network.participation)
    convert(affnet_client, affnet_network, "lead", fb_click(affnet_client, affnet_network))
    affnet_worker.run_once()
    assert [request.pixel_id for request in fake_graph.received] == [PIXEL]


def test_changed_pixel_settings_take_effect_24_hours_after_saving(
    affnet_client, affnet_services, affnet_network, affnet_worker, affnet_clock, fake_graph
):
    save_pixel(affnet_services, affnet_network)
    affnet_clock.advance(hours=1)
    save_pixel(affnet_services, affnet_network, pixel_id=OTHER_PIXEL)
    click_id = fb_click(affnet_client, affnet_network)
    convert(affnet_client, affnet_network, "lead", click_id)
    affnet_worker.run_once()
    affnet_clock.advance(hours=24)
    convert(affnet_client, affnet_network, "trial", click_id)
    affnet_worker.run_once()
    assert [(r.pixel_id, r.events[0]["event_name"]) for r in fake_graph.received] == [
        (PIXEL, "Lead"),
        (OTHER_PIXEL, "StartTrial"),
    ]


def sample_test_event(network) -> EventInfo:
    """An event as the settings page's "send test event" builds it."""
    from affnet.core import clock

    now = clock.now()
    offer = network.offer
    return EventInfo(
        txid="tx_test_send_1",
        kind="sale",
        status="sale",
        occurred_at=now,
        offer=OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency),
        attributed=True,
        affiliate_id=network.affiliate.id,
        participation_id=network.participation.id,
        ref_code=network.ref,
        payout=Decimal("8.70"),
        payout_currency="USD",
        gross_amount=Decimal("29.00"),
        currency="USD",
        user_ref="test-customer",
        external_payment_id="pi_test",
        is_first_payment=True,
        click=ClickInfo("c_test", now, None, FBCLID, IP, UA),
        is_test=True,
    )


def test_send_test_event_goes_out_at_once_with_the_test_event_code(affnet_services, affnet_network, fake_graph):
    values = {"pixel_id": PIXEL, "access_token": VALID_TOKEN, "test_event_code": "TEST777"}
    delivery = outbox.send_test(
        affnet_services.pm,
        affnet_services.registry,
        affnet_services.plugin_config,
        "fb_capi",
        sample_test_event(affnet_network),
        values,
    )
    assert (delivery.status, delivery.is_test) == ("sent", True)
    (request,) = fake_graph.received
    assert request.body["test_event_code"] == "TEST777"
    assert [(e["event_name"], e["event_id"]) for e in request.events] == [("Purchase", "tx_test_send_1")]
    assert VALID_TOKEN not in delivery.attempt_log[0].url


def test_a_test_send_without_test_event_code_is_not_sent_and_says_what_to_fill_in(
    affnet_services, affnet_network, fake_graph
):
    values = {"pixel_id": PIXEL, "access_token": VALID_TOKEN}
    delivery = outbox.send_test(
        affnet_services.pm,
        affnet_services.registry,
        affnet_services.plugin_config,
        "fb_capi",
        sample_test_event(affnet_network),
        values,
    )
    assert delivery.status == "failed" and "Test Event Code" in delivery.last_error
    assert fake_graph.answered == []


def test_a_test_send_with_a_revoked_token_reports_it_at_once(affnet_services, affnet_network, fake_graph):
    values = {"pixel_id": PIXEL, "access_token": "EAAGnotvalidANYMORE1234", "test_event_code": "TEST777"}
    delivery = outbox.send_test(
        affnet_services.pm,
        affnet_services.registry,
        affnet_services.plugin_config,
        "fb_capi",
        sample_test_event(affnet_network),
        values,
    )
    assert delivery.status == "failed" and "…1234" in delivery.last_error
    assert "EAAGnotvalidANYMORE1234" not in delivery.last_error


def test_a_test_send_of_a_made_up_event_without_customer_or_amount_still_reaches_test_events(
    affnet_services, affnet_network, fake_graph
):
    from affnet.core import clock

    offer = affnet_network.offer
    made_up = EventInfo(
        txid="test_madeup",
        kind="sale",
        status="sale",
        occurred_at=clock.now(),
        offer=OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency),
        attributed=True,
        affiliate_id=affnet_network.affiliate.id,
        participation_id=None,
        ref_code=None,
        payout=Decimal("1.00"),
        payout_currency="USD",
        gross_amount=None,
        currency=None,
        user_ref=None,
        external_payment_id=None,
        is_first_payment=False,
        click=ClickInfo("test_click", clock.now(), None, None, None, None),
        is_test=True,
    )
    values = {"pixel_id": PIXEL, "access_token": VALID_TOKEN, "test_event_code": "TEST777"}
    delivery = outbox.send_test(
        affnet_services.pm, affnet_services.registry, affnet_services.plugin_config, "fb_capi", made_up, values
    )
    assert delivery.status == "sent", delivery.last_error
    (event,) = fake_graph.received[0].events
    assert (event["event_name"], event["event_id"], event["action_source"]) == (
        "Purchase",
        "test_madeup",
        "system_generated",
    )
    assert event["custom_data"] == {"value": Decimal("1.00"), "currency": "usd"}
    assert event["user_data"] == {"external_id": [hashlib.sha256(b"affnet-test-test_madeup").hexdigest()]}
