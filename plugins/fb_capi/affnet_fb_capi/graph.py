"""Sending server events to the Graph API: one request per pixel and batch,
through affnet's sender helper (``affnet.plugins.senders``).

``POST {graph_base_url}/{graph_version}/{pixel_id}/events`` with a JSON body
``{"data": [...], "access_token": ..., "test_event_code": ...}``. The token
travels in the body, never in the URL, so no access log, proxy or
``urllib3`` debug line can show it; the URL reported back is the bare
endpoint. Events of one pixel (same Pixel ID, token and Test Event Code) due
together share a request, up to Meta's limit of 1,000 events per request.

Meta rejects a whole request when one event in it is older than 7 days, so
such events are never sent: they fail on their own with that reason. When
Meta refuses a request for an invalid parameter, the batch is halved until
the invalid event stands alone.
"""

import json
import re
import secrets
from datetime import timedelta
from urllib.parse import quote

from affnet import plugins as affnet_plugins
from affnet.plugins.senders import Answer, Destination, retry_after_seconds, send_batches
from affnet.plugins.types import DeliveryResult

from .answers import verdict
from .events import unix_seconds

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v26.0"  # the newest Graph API version, released 2026-07-29
MAX_EVENTS_PER_REQUEST = 1000
MAX_EVENT_AGE = timedelta(days=7)
# Meta measures the 7 days when the request arrives: keep a minute for the trip.
AGE_MARGIN = timedelta(minutes=1)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def endpoint(config: dict, pixel_id: str) -> str:
    base = (config.get("graph_base_url") or DEFAULT_GRAPH_BASE_URL).rstrip("/")
    version = config.get("graph_version") or DEFAULT_GRAPH_VERSION
    return f"{base}/{version}/{quote(str(pixel_id), safe='')}/events"


def encode_body(events: list[dict], token: str, test_event_code: str) -> bytes:
    """The request body, with each ``custom_data.value`` written as a JSON
    number of exactly its stored digits (no float on the way)."""
    numbers, data = {}, []
    for event in events:
        custom = event.get("custom_data")
        if custom and "value" in custom:
            mark = f"affnet-value-{secrets.token_hex(12)}"
            numbers[json.dumps(mark)] = str(custom["value"])
            event = {**event, "custom_data": {**custom, "value": mark}}
        data.append(event)
    body = {"data": data, "access_token": token}
    if test_event_code:
        body["test_event_code"] = test_event_code
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    for quoted, number in numbers.items():
        text = text.replace(quoted, number, 1)
    return text.encode("utf-8")


def _unsendable(delivery, now) -> str:
    """Why a delivery cannot go to Meta at all, or ""."""
    settings = delivery.settings or {}
    if not settings.get("pixel_id") or not settings.get("access_token"):
        return "the pixel settings (Pixel ID and access token) are missing"
    if delivery.is_test and not settings.get("test_event_code"):
        return (
            "a test event needs a Test Event Code (Events Manager, Test events): without one Meta would "
            "count it as a real conversion, so it was not sent"
        )
    event = (delivery.payload or {}).get("event")
    if not isinstance(event, dict):
        return "the delivery has no event to send"
    custom = event.get("custom_data") or {}
    if "value" in custom and not _NUMBER.match(str(custom["value"])):
        return f"the purchase value {custom['value']!r} is not a decimal number"
    if not isinstance(event.get("event_time"), int):
        return "the event has no event_time"
    age = timedelta(seconds=unix_seconds(now) - event["event_time"])
    if age > MAX_EVENT_AGE - AGE_MARGIN:
        return (
            f"not sent: the event happened {age.days} days ago and Meta accepts events only up to "
            "7 days after they happen"
        )
    return ""


def destination(delivery, now, config: dict) -> Destination | str:
    """Where a delivery goes: its pixel's endpoint, with its token and Test
    Event Code (events share a request only when all three match); or why
    it cannot go to Meta at all."""
    why = _unsendable(delivery, now)
    if why:
        return why
    settings = delivery.settings
    pixel_id = str(settings["pixel_id"]).strip()
    # The Graph API's address comes from the operator's config, not from an affiliate: no address check.
    return Destination(
        endpoint(config, pixel_id),
        secrets=(settings["access_token"],),
        group=(pixel_id, settings.get("test_event_code") or ""),
        checked=False,
    )


def request(where: Destination, deliveries) -> dict:
    body = encode_body([delivery.payload["event"] for delivery in deliveries], where.secrets[0], where.group[1])
    return {"data": body, "headers": {"Content-Type": "application/json"}}


def answer(status_code: int, text: str, headers, where: Destination) -> Answer:
    said = verdict(status_code, text, where.secrets[0], where.group[0])
    return Answer(
        said.outcome,
        said.error,
        said.per_event,
        retry_after_seconds(headers.get("Retry-After")) if said.outcome == "retry" else None,
    )


def send(deliveries, config: dict) -> list[DeliveryResult]:
    """Send due pixel deliveries; one result per delivery."""
    now = affnet_plugins.now()
    return send_batches(
        deliveries,
        config,
        receiver="Meta",
        destination=lambda d: destination(d, now, config),
        request=request,
        answer=answer,
        max_events=MAX_EVENTS_PER_REQUEST,
    )
