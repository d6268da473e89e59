"""Sending postbacks: GET requests through a pooled, SSRF-safe session with
bounded parallelism, and the answer turned into a ``DeliveryResult``.

* 2xx: sent.
* Network errors (connect, timeout, a name that does not resolve), 5xx and
  429: retried later by the core with backoff; ``Retry-After`` is honoured
  (capped at ``MAX_RETRY_AFTER``).
* A refused destination (loopback, private... see ``affnet.net``), a redirect
  (never followed) and any other 4xx: failed for good.

Within one batch, a host that failed at the network level ``HOST_FAILURES``
times is not tried again: its remaining deliveries are retried later at once,
so one dead tracker costs the batch at most a couple of timeouts instead of
one per delivery.
"""
import email.utils
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from affnet.net import TargetRefused, outbound_session
from affnet.plugins import DeliveryResult

EXCERPT = 500
MAX_BODY = 64 * 1024
MAX_RETRY_AFTER = 6 * 3600
HOST_FAILURES = 2
SECRET_NAME = re.compile(r"token|key|secret|pass|auth|sig|hash", re.IGNORECASE)
MASK = "***"

_sessions: dict = {}
_sessions_lock = threading.Lock()


def session_for(config: dict) -> requests.Session:
    """One pooled session per (allow_private, parallelism), kept for the
    process so connections to a tracker are reused across batches."""
    key = (bool(config.get("allow_private_targets")), int(config.get("parallelism") or 16))
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = outbound_session(allow_private=key[0], pool_size=key[1])
        return _sessions[key]


def mask_url(url: str) -> str:
    """The URL fit for a log: values of query parameters named like a token,
    key, secret, password or signature, and a password in the address, as ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(":" + parts.password + "@", ":" + MASK + "@", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(SECRET_NAME.search(name) for name, _ in pairs):
        query = urlencode([(name, MASK if SECRET_NAME.search(name) else value) for name, value in pairs],
                          quote_via=quote, safe="*")
    else:
        query = parts.query
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def _excerpt(response: requests.Response) -> str:
    body = b""
    for chunk in response.iter_content(8192):
        body += chunk
        if len(body) > MAX_BODY:
            break
    response.close()  # a body read to its end gives the connection back to the pool
    return body[:EXCERPT * 4].decode(response.encoding or "utf-8", errors="replace")[:EXCERPT]


def classify(delivery_id: int, url: str, response: requests.Response) -> DeliveryResult:
    code = response.status_code
    excerpt = _excerpt(response)
    if 200 <= code < 300:
        return DeliveryResult(delivery_id, "sent", url, code, excerpt)
    if code == 429 or code >= 500:
        return DeliveryResult(delivery_id, "retry", url, code, excerpt, f"the tracker answered {code}",
                              retry_after_seconds(response.headers.get("Retry-After")))
    if 300 <= code < 400:
        location = mask_url(response.headers.get("Location", ""))
        return DeliveryResult(delivery_id, "failed", url, code, excerpt,
                              f"the tracker answered a redirect ({code} to {location or 'nowhere'}); redirects "
                              "are not followed: set the final postback address")
    return DeliveryResult(delivery_id, "failed", url, code, excerpt, f"the tracker refused the postback ({code})")


class Batch:
    """One batch of deliveries sent with bounded parallelism."""

    def __init__(self, config: dict):
        self.session = session_for(config)
        seconds = float(config.get("timeout_seconds") or 10)
        self.timeout = (seconds, seconds)
        self.parallelism = max(1, int(config.get("parallelism") or 16))
        self.failures: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def send(self, deliveries) -> list[DeliveryResult]:
        if len(deliveries) <= 1:
            return [self.send_one(delivery) for delivery in deliveries]
        with ThreadPoolExecutor(max_workers=min(self.parallelism, len(deliveries)),
                                thread_name_prefix="postback") as pool:
            return list(pool.map(self.send_one, deliveries))

    def send_one(self, delivery) -> DeliveryResult:
        url = delivery.payload.get("url", "")
        try:
            shown = mask_url(url)
            host = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()  # host[:port]: one tracker
        except ValueError as error:
            return DeliveryResult(delivery.id, "failed", "(an unreadable URL)", error=f"unusable URL: {error}")
        with self.lock:
            earlier = self.failures.get(host, [])
        if len(earlier) >= HOST_FAILURES:
            return DeliveryResult(delivery.id, "retry", shown,
                                  error=f"not tried: {host} failed {len(earlier)} times in this round ({earlier[-1]})")
        try:
            response = self.session.get(url, timeout=self.timeout, stream=True,
                                        headers={"User-Agent": "affnet-postback/1"})
        except TargetRefused as refused:
            return DeliveryResult(delivery.id, "failed", shown, error=refused.reason)
        except (requests.ConnectionError, requests.Timeout) as error:
            why = _network_error(error)
            with self.lock:
                self.failures.setdefault(host, []).append(why)
            return DeliveryResult(delivery.id, "retry", shown, error=why)
        except (requests.RequestException, ValueError, UnicodeError) as error:  # an unusable URL: retrying will not help
            message = str(error).replace(url, shown)  # the message may quote the URL: mask it
            return DeliveryResult(delivery.id, "failed", shown, error=f"{error.__class__.__name__}: {message}"[:1000])
        except Exception as error:  # never let one delivery break the others of its batch
            return DeliveryResult(delivery.id, "retry", shown, error=f"unexpected error: {error.__class__.__name__}")
        try:
            return classify(delivery.id, shown, response)
        except requests.RequestException as error:  # the answer broke off mid-body
            return DeliveryResult(delivery.id, "retry", shown, response.status_code, error=_network_error(error))


def _network_error(error: Exception) -> str:
    """A network fault in words for the log, without the request's URL
    (urllib3 puts the path and query, secrets included, in its messages)."""
    if isinstance(error, requests.ConnectTimeout):
        return "network error: connect timeout"
    if isinstance(error, requests.Timeout):
        return "network error: read timeout (the tracker did not answer in time)"
    text = str(error)
    if "does not resolve" in text:
        return "network error: " + text
    caused = re.search(r"\(Caused by (.*)\)\s*$", text)
    if caused:
        text = caused.group(1)
    errno = re.search(r"\[Errno -?\d+\] ([^'\"]+)", text)
    if errno:
        text = errno.group(1)
    text = re.sub(r"url: \S+", "url: (not shown)", text)
    return f"network error: {error.__class__.__name__} ({text[:300]})"
