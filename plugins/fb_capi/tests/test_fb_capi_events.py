"""Which affnet events become which Conversions API events (no database)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from affnet_fb_capi.events import server_event
from test_fb_capi_sdk import affnet_event


@pytest.mark.parametrize("kind", ["refund", "chargeback"])
def test_refunds_and_chargebacks_become_no_pixel_event(kind):
    assert server_event(replace(affnet_event("sale"), kind=kind, status="rejected", payout=Decimal("-8.70"))) is None


def test_a_rebill_whose_click_is_gone_is_sent_as_system_generated_with_the_hashed_customer():
    event = server_event(replace(affnet_event("rebill"), click=None))
    assert event["action_source"] == "system_generated"
    assert list(event["user_data"]) == ["external_id"]
    assert event["custom_data"] == {"value": "29.00", "currency": "usd"}


def test_an_event_with_nothing_to_match_a_person_by_is_not_sent():
    assert server_event(replace(affnet_event("lead"), click=None, user_ref=None)) is None
