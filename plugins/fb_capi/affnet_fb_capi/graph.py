"""Sending server events to the Graph API: one request per pixel and batch.

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
import logging
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

import requests

from affnet import plugins as affnet_plugins
from affnet.plugins.types import DeliveryResult

from .answers import scrub, verdict
from .events import unix_seconds

log = logging.getLogger("affnet.fb_capi")

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v26.0"  # the newest Graph API version, released 2026-07-29
MAX_EVENTS_PER_REQUEST = 1000
MAX_EVENT_AGE = timedelta(days=7)
# Meta measures the 7 days when the request arrives: keep a minute for the trip.
AGE_MARGIN = timedelta(minutes=1)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass
class PixelBatch:
    """Events of one pixel to send in one request (the token kept out of its repr)."""

    pixel_id: str
    token: str = field(repr=False)
    test_event_code: str
    deliveries: list = field(default_factory=list)


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
        return ("a test event needs a Test Event Code (Events Manager, Test events): without one Meta would "
                "count it as a real conversion, so it was not sent")
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
        return (f"not sent: the event happened {age.days} days ago and Meta accepts events only up to "
                "7 days after they happen")
    return ""


def group_by_pixel(deliveries, now) -> tuple[list[PixelBatch], list[DeliveryResult]]:
    """Batches of at most 1,000 events per pixel, and the results of the
    deliveries that cannot be sent at all."""
    groups: dict[tuple, PixelBatch] = {}
    refused = []
    for delivery in deliveries:
        why = _unsendable(delivery, now)
        if why:
            refused.append(DeliveryResult(delivery.id, "failed", error=why))
            continue
        settings = delivery.settings
        key = (str(settings["pixel_id"]).strip(), settings["access_token"], settings.get("test_event_code") or "")
        groups.setdefault(key, PixelBatch(*key)).deliveries.append(delivery)
    batches = []
    for group in groups.values():
        for start in range(0, len(group.deliveries), MAX_EVENTS_PER_REQUEST):
            batches.append(PixelBatch(group.pixel_id, group.token, group.test_event_code,
                                      group.deliveries[start:start + MAX_EVENTS_PER_REQUEST]))
    return batches, refused


def post_batch(batch: PixelBatch, config: dict) -> list[DeliveryResult]:
    """Send one batch; every delivery in it shares Meta's one answer, unless
    Meta refused an invalid event (see ``_isolate``)."""
    results, refused = _post(batch, config)
    if refused and len(batch.deliveries) > 1:
        return _isolate(batch, config)
    return results


def _halves(batch: PixelBatch) -> list[PixelBatch]:
    middle = len(batch.deliveries) // 2
    return [PixelBatch(batch.pixel_id, batch.token, batch.test_event_code, part)
            for part in (batch.deliveries[:middle], batch.deliveries[middle:])]


def _isolate(batch: PixelBatch, config: dict) -> list[DeliveryResult]:
    """Halve a refused batch until the invalid event stands alone, so it does
    not take the valid ones down with it: about 2·log2(n) more requests for
    one bad event. When both halves are refused the fault is not one event's
    (or several are bad): the halves keep Meta's refusal."""
    answered = [(part, *_post(part, config)) for part in _halves(batch)]
    guilty = [(part, results) for part, results, refused in answered if refused]
    if len(guilty) != 1 or len(guilty[0][0].deliveries) == 1:
        return [result for _, results, _ in answered for result in results]
    innocent = [result for part, results, refused in answered if not refused for result in results]
    return innocent + _isolate(guilty[0][0], config)


def _post(batch: PixelBatch, config: dict) -> tuple[list[DeliveryResult], bool]:
    """One request; the results, and whether Meta refused an invalid event."""
    url = endpoint(config, batch.pixel_id)
    body = encode_body([delivery.payload["event"] for delivery in batch.deliveries], batch.token,
                       batch.test_event_code)
    timeout = config.get("affnet.timeout_seconds") or 10
    try:
        with requests.Session() as session:
            response = session.post(url, data=body, headers={"Content-Type": "application/json"},
                                    timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        why = scrub(f"could not reach Meta ({error.__class__.__name__}); trying again later", batch.token)
        log.warning("pixel %s: %d events not delivered: %s", batch.pixel_id, len(batch.deliveries), why)
        return [DeliveryResult(delivery.id, "retry", url=url, error=why) for delivery in batch.deliveries], False
    answer = verdict(response.status_code, response.text, batch.token, batch.pixel_id)
    log.info("pixel %s: %d events, HTTP %s, %s", batch.pixel_id, len(batch.deliveries), response.status_code,
             answer.outcome)
    return [DeliveryResult(delivery.id, answer.outcome, url=url, status_code=response.status_code,
                           response_excerpt=answer.excerpt, error=answer.error)
            for delivery in batch.deliveries], answer.per_event


def send(deliveries, config: dict) -> list[DeliveryResult]:
    """Send due pixel deliveries; one result per delivery."""
    batches, results = group_by_pixel(deliveries, affnet_plugins.now())
    if not batches:
        return results
    workers = max(1, min(int(config.get("affnet.parallelism") or 4), len(batches)))
    if workers == 1:
        for batch in batches:
            results.extend(post_batch(batch, config))
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fb-capi") as pool:
        for batch_results in pool.map(lambda batch: post_batch(batch, config), batches):
            results.extend(batch_results)
    return results
