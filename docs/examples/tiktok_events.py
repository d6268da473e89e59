"""Leads and sales to the affiliate's TikTok pixel (Events API), with the click's ttclid."""
import re

from affnet import hookimpl
from affnet.plugins import (
    Answer, ConfigKey, DeliveryKind, Destination, NewDelivery, SettingField, read_answer, send_batches, unix_seconds)

NAMES = {"lead": "Lead", "sale": "Purchase", "rebill": "Purchase"}
KIND = DeliveryKind("tiktok_events", "TikTok pixel (Events API)", fields=(
    SettingField("pixel_code", "Pixel code", required=True),
    SettingField("access_token", "Events API access token", secret=True, required=True)))


@hookimpl
def delivery_kinds():
    return [KIND]


@hookimpl
def config_keys():
    return [ConfigKey("api_url", str, "https://business-api.tiktok.com/open_api/v1.3/event/track/", "Events API")]


@hookimpl
def deliveries_for_event(event, settings):
    ttclid = event.click.ad_click_ids.get("ttclid") if event.click else None
    if KIND.name not in settings or event.kind not in NAMES or not ttclid:
        return []
    value = {"value": str(event.gross_amount or 0), "currency": event.currency or event.offer.currency}
    return [NewDelivery(KIND.name, {"event": NAMES[event.kind], "event_time": unix_seconds(event.occurred_at),
                                    "event_id": event.txid, "user": {"ttclid": ttclid}, "properties": value})]


def answer(status, text, headers, where):  # TikTok answers HTTP 200 also when it refuses: "code": 0 is a yes
    said = read_answer(status, text, headers, where)
    if said.outcome == "sent" and not re.search(r'"code"\s*:\s*0\b', text):
        return Answer("failed", f"TikTok refused the events: {text[:200]}")
    return said


@hookimpl
def send_deliveries(kind, deliveries, config, report):
    if kind != KIND.name:
        return None
    return send_batches(
        deliveries, config, receiver="TikTok", answer=answer, report=report,
        destination=lambda d: Destination(config["api_url"], secrets=(d.settings["access_token"],),
                                          group=(d.settings["pixel_code"],)),
        request=lambda where, batch: {"headers": {"Access-Token": where.secrets[0]}, "json": {
            "event_source": "web", "event_source_id": where.group[0], "data": [d.payload for d in batch]}})
