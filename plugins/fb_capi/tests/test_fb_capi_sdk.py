"""Proof against the real thing: Meta's own Python SDK (facebook-business)
builds the same event, and affnet's request agrees with it field by field."""

import json
import types
from datetime import datetime
from decimal import Decimal

import pytest
from capi_param_builder import ParamBuilder
from capi_param_builder import param_builder as param_builder_module
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.http_service_interface import HttpServiceInterface
from facebook_business.adobjects.serverside.normalize import Normalize
from facebook_business.adobjects.serverside.user_data import UserData

from affnet.plugins import ClickInfo, EventInfo, OfferInfo
from affnet_fb_capi import graph
from affnet_fb_capi.events import server_event, unix_seconds

PIXEL = "1234567890123"
TOKEN = "EAAGm0PX4ZCpsBAJZCsdkTOKEN0123456789"
LANDING = "https://susurra.example/start?lang=en"
FBCLID = "IwAR2F4-Gq_fake_fbclid_0123456789"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
IP = "198.51.100.23"
CLICK_AT = datetime(2026, 11, 20, 9, 15, 42, 987654)
EVENT_AT = datetime(2026, 11, 20, 9, 31, 5)


class CapturingClient(HttpServiceInterface):
    """The SDK's pluggable HTTP client: keeps what the SDK would send."""

    def execute(self, url, method, request_options, headers, params):
        self.sent = {"url": url, "method": method, "params": params}
        return self.sent


def affnet_event(kind="sale", user_ref="  Cus_ABC ", gross=Decimal("29.0000"), currency="USD") -> EventInfo:
    return EventInfo(
        txid="tx_Abc123def456",
        kind=kind,
        status="sale",
        occurred_at=EVENT_AT,
        offer=OfferInfo(1, "susurra", "Susurra", LANDING, "USD"),
        attributed=True,
        affiliate_id=2,
        participation_id=3,
        ref_code="r1",
        payout=Decimal("8.70"),
        payout_currency="USD",
        gross_amount=gross if kind in ("sale", "rebill") else None,
        currency=currency if kind in ("sale", "rebill") else None,
        user_ref=user_ref,
        external_payment_id="pi_1",
        is_first_payment=True,
        click=ClickInfo("c1", CLICK_AT, None, FBCLID, IP, UA),
    )


def fbc_by_meta(monkeypatch) -> str:
    """The fbc Meta's parameter builder makes when the visitor lands with the
    fbclid at the click's time, without the builder's own language suffix."""
    clicked = unix_seconds(CLICK_AT) + CLICK_AT.microsecond / 1e6
    monkeypatch.setattr(param_builder_module, "time", types.SimpleNamespace(time=lambda: clicked))
    builder = ParamBuilder(["susurra.example"])
    builder.process_request("susurra.example", {"fbclid": [FBCLID]}, {})
    return ".".join(builder.get_fbc().split(".")[:4])


def sdk_request(event_name, user_ref, fbc, custom_data=None, test_event_code="TEST123"):
    user_data = UserData(
        external_id=Normalize.normalize_field("external_id", user_ref),
        client_ip_address=IP,
        client_user_agent=UA,
        fbc=fbc,
    )
    event = Event(
        event_name=event_name,
        event_time=unix_seconds(EVENT_AT),
        event_id="tx_Abc123def456",
        event_source_url=LANDING,
        action_source=ActionSource.WEBSITE,
        user_data=user_data,
        custom_data=custom_data,
    )
    client = CapturingClient()
    EventRequest(
        pixel_id=PIXEL, events=[event], test_event_code=test_event_code, http_client=client, access_token=TOKEN
    ).execute()
    return client.sent


def affnet_request(info, test_event_code="TEST123") -> dict:
    body = graph.encode_body([server_event(info)], TOKEN, test_event_code)
    return {"url": graph.endpoint({}, PIXEL), "params": json.loads(body)}


@pytest.mark.parametrize(
    "kind, name", [("lead", "Lead"), ("trial", "StartTrial"), ("sale", "Purchase"), ("rebill", "Purchase")]
)
def test_affnets_request_agrees_with_the_official_sdk_field_by_field(monkeypatch, kind, name):
    custom = CustomData(value=29.0, currency="USD") if name == "Purchase" else None
    sdk = sdk_request(name, "  Cus_ABC ", fbc_by_meta(monkeypatch), custom)
    ours = affnet_request(affnet_event(kind))
    assert ours["url"] == sdk["url"], "same Graph API base, version and edge by default"
    assert set(ours["params"]) == set(sdk["params"]) == {"data", "access_token", "test_event_code"}
    assert ours["params"]["access_token"] == sdk["params"]["access_token"]
    assert ours["params"]["test_event_code"] == sdk["params"]["test_event_code"]
    (sdk_event,) = [json.loads(text) for text in sdk["params"]["data"]]
    (our_event,) = ours["params"]["data"]
    assert sorted(our_event) == sorted(sdk_event)
    for field in sdk_event:
        assert our_event[field] == sdk_event[field], field


@pytest.mark.parametrize("user_ref", ["cus_123", "  Cus_ABC ", "Jane.Doe@Example.COM", "ÜSER-ß-42\t"])
def test_external_id_is_hashed_and_normalised_as_meta_normalises_it(user_ref):
    ours = server_event(affnet_event("lead", user_ref=user_ref))["user_data"]["external_id"]
    assert ours == [Normalize.normalize_field("external_id", user_ref)]
    assert UserData(external_ids=ours).normalize()["external_id"] == ours, "sent as Meta's SDK sends it"


def test_fbc_is_the_one_metas_parameter_builder_makes_for_the_click(monkeypatch):
    fbc = server_event(affnet_event("lead"))["user_data"]["fbc"]
    assert fbc == fbc_by_meta(monkeypatch)
    assert fbc == f"fb.1.{unix_seconds(CLICK_AT) * 1000 + 987}.{FBCLID}"


@pytest.mark.parametrize(
    "gross, currency, text",
    [
        (Decimal("29.0000"), "USD", "29.00"),
        (Decimal("0.1000"), "USD", "0.10"),
        (Decimal("1234.5678"), "USD", "1234.5678"),
        (Decimal("1500.0000"), "JPY", "1500"),
        (Decimal("12.3450"), "KWD", "12.345"),
    ],
)
def test_the_purchase_value_is_a_json_number_with_the_decimals_exact_digits(gross, currency, text):
    body = graph.encode_body([server_event(affnet_event("sale", gross=gross, currency=currency))], TOKEN, "")
    assert f'"value":{text}' in body.decode()
    custom = json.loads(body, parse_float=Decimal)["data"][0]["custom_data"]
    assert custom["value"] == gross and custom["currency"] == currency.lower()
    assert custom == {**CustomData(value=float(gross), currency=currency).normalize(), "value": gross}
