"""Sending postbacks: GET requests, many at once (at most ``parallelism``)
on one event loop, through an SSRF-safe aiohttp session
(``affnet.net.outbound_client_session``) that keeps connections to a tracker
open across batches; each answer is turned into a ``DeliveryResult``.

* 2xx: sent.
* Network errors (connect, timeout, a name that does not resolve), 5xx and
  429: retried later by the core with backoff; ``Retry-After`` is honoured
  (capped at six hours, ``affnet.plugins.retry_after_seconds``).
* A refused destination (loopback, private... see ``affnet.net``), a redirect
  (never followed) and any other 4xx: failed for good.

Within one batch, a host that failed at the network level ``HOST_FAILURES``
times is not tried again: its remaining deliveries are retried later at once,
so one dead tracker costs the batch at most a couple of timeouts instead of
one per delivery.
"""

import asyncio
import os
import re
from urllib.parse import urlsplit

import aiohttp

from affnet.plugins import (
    DeliveryResult,
    UnresolvableHost,
    mask_url,
    outbound_client_session,
    refusal_in,
    retry_after_seconds,
    run_outbound,
)

from .template import postback_url

EXCERPT = 500
MAX_BODY = 64 * 1024
HOST_FAILURES = 2

_sessions: dict = {}  # allow_private -> session, made and used on the outbound loop only


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the answer's body as text. A body read to its end leaves
    the connection open for the next postback; a longer one is cut off with
    its connection."""
    body = b""
    while len(body) <= MAX_BODY:
        chunk = await response.content.read(MAX_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    try:
        return body[: EXCERPT * 4].decode(response.charset or "utf-8", errors="replace")[:EXCERPT]
    except LookupError:  # a charset Python does not know
        return body[: EXCERPT * 4].decode("utf-8", errors="replace")[:EXCERPT]


def classify(delivery_id: int, url: str, code: int, headers, excerpt: str) -> DeliveryResult:
    """An answer (status code, headers, the start of its body) as the delivery's outcome."""
    if 200 <= code < 300:
        return DeliveryResult(delivery_id, "sent", url, code, excerpt)
    if code == 429 or code >= 500:
        return DeliveryResult(
            delivery_id,
            "retry",
            url,
            code,
            excerpt,
            f"the tracker answered {code}",
            retry_after_seconds(headers.get("Retry-After")),
        )
    if 300 <= code < 400:
        location = mask_url(headers.get("Location", ""))
        return DeliveryResult(
            delivery_id,
            "failed",
            url,
            code,
            excerpt,
            f"the tracker answered a redirect ({code} to {location or 'nowhere'}); redirects "
            "are not followed: set the final postback address",
        )
    return DeliveryResult(delivery_id, "failed", url, code, excerpt, f"the tracker refused the postback ({code})")


class Batch:
    """One batch of deliveries, sent at most ``parallelism`` at a time."""

    def __init__(self, config: dict):
        self.allow_private = bool(config.get("affnet.allow_private_targets"))
        seconds = float(config.get("affnet.timeout_seconds") or 10)
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        self.parallelism = max(1, int(config.get("affnet.parallelism") or 16))
        self.failures: dict[str, list[str]] = {}

    def send(self, deliveries, report=None) -> list[DeliveryResult]:
        """Send every delivery; ``report`` (the core's) hears each result as
        its request completes."""
        return run_outbound(self._send_all(deliveries, report)) if deliveries else []

    async def _send_all(self, deliveries, report) -> list[DeliveryResult]:
        session = _sessions.get(self.allow_private)
        if session is None or session.closed:
            session = _sessions[self.allow_private] = outbound_client_session(self.allow_private)
        slots = asyncio.Semaphore(self.parallelism)

        async def one(delivery):
            async with slots:
                result = await self.send_one(session, delivery)
            if report is not None:
                report(result)
            return result

        return list(await asyncio.gather(*(one(delivery) for delivery in deliveries)))

    async def send_one(self, session: aiohttp.ClientSession, delivery) -> DeliveryResult:
        url = postback_url(delivery.payload, delivery.settings)
        try:
            shown = mask_url(url)
            host = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()  # host[:port]: one tracker
        except ValueError as error:
            return DeliveryResult(delivery.id, "failed", "(an unreadable URL)", error=f"unusable URL: {error}")
        earlier = self.failures.get(host, [])
        if len(earlier) >= HOST_FAILURES:
            return DeliveryResult(
                delivery.id,
                "retry",
                shown,
                error=f"not tried: {host} failed {len(earlier)} times in this round ({earlier[-1]})",
            )
        try:
            async with session.get(
                url, allow_redirects=False, timeout=self.timeout, headers={"User-Agent": "affnet-postback/1"}
            ) as response:
                return classify(delivery.id, shown, response.status, response.headers, await _excerpt(response))
        except (aiohttp.ClientError, OSError) as error:
            refused = refusal_in(error)
            if refused is not None:
                return DeliveryResult(delivery.id, "failed", shown, error=refused.reason)
            if isinstance(error, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
                return _unusable(delivery.id, url, shown, error)
            return self._network_failure(delivery.id, shown, host, error)
        except ValueError as error:  # an unusable URL: retrying will not help
            return _unusable(delivery.id, url, shown, error)
        except Exception as error:  # never let one delivery break the others of its batch
            return DeliveryResult(delivery.id, "retry", shown, error=f"unexpected error: {error.__class__.__name__}")

    def _network_failure(self, delivery_id: int, shown: str, host: str, error: Exception) -> DeliveryResult:
        why = _network_error(error)
        self.failures.setdefault(host, []).append(why)
        return DeliveryResult(delivery_id, "retry", shown, error=why)


def _unusable(delivery_id: int, url: str, shown: str, error: Exception) -> DeliveryResult:
    message = str(error).replace(url, shown)  # the message may quote the URL: mask it
    return DeliveryResult(delivery_id, "failed", shown, error=f"{error.__class__.__name__}: {message}"[:1000])


def _network_error(error: Exception) -> str:
    """A network fault in words for the log, without the request's URL (a
    message may quote it, secrets included)."""
    cause = getattr(error, "os_error", None)
    if isinstance(cause, UnresolvableHost):
        return "network error: " + str(cause)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "network error: connect timeout"
    if isinstance(error, asyncio.TimeoutError):
        return "network error: read timeout (the tracker did not answer in time)"
    if isinstance(error, aiohttp.ClientSSLError):
        text = str(getattr(error, "certificate_error", None) or cause or error)
    elif isinstance(cause, OSError) and cause.errno:
        text = os.strerror(cause.errno)
    else:
        text = str(error) or error.__class__.__name__
    text = re.sub(r"url: \S+|https?://\S+", "(a URL, not shown)", text)
    return f"network error: {error.__class__.__name__} ({text[:300]})"
