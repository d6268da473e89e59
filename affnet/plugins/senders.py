"""A helper for conversion-API senders: Meta's Conversions API today,
TikTok's, Google's or Snap's tomorrow.

Such a sender's ``send_deliveries`` does the same work whatever the
platform, and ``send_batches`` does it:

- groups the due deliveries by ``Destination`` (the endpoint, the secrets
  that go with it, anything else that must not share a request) and sends
  each group in requests of at most ``max_events`` events, several requests
  at once (``affnet.parallelism``);
- tells a retryable answer (5xx, 429 with its ``Retry-After``, a timeout or a
  connection that fails) from a final one, or lets the plugin read the
  platform's answers itself (``answer``);
- when the platform refuses a whole request for one bad event, halves the
  request until that event stands alone, so the good ones are sent;
- masks every secret of the destination in the URL, error and excerpt it
  reports, and reports each request's results as they come (``report``);
- connects through the address-checked outbound client
  (``outbound_session``), so an address an affiliate typed never reaches
  the operator's own network.

The plugin supplies three small functions: where a delivery goes
(``destination``), the request for a batch (``request``) and, optionally,
how to read an answer (``answer``). docs/plugins.md has a complete sender in
under 50 lines.
"""

import email.utils
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from ..net import TargetRefused, outbound_session
from .types import DeliveryResult, OutgoingDelivery

log = logging.getLogger("affnet.senders")

MAX_RETRY_AFTER = 6 * 3600.0  # the outbox's longest backoff
EXCERPT_CHARACTERS = 500


@dataclass(frozen=True)
class Destination:
    """Where a delivery goes. Deliveries with equal destinations share requests.

    ``url``: the endpoint (no secret in it). ``secrets``: texts (tokens,
    keys) that never appear in anything reported: each is replaced by ``…``
    and its last four characters. ``group``: anything else that keeps
    deliveries apart (a test event code). ``checked``: connect through the
    address-checked client; False only for an address from the operator's
    config (a platform's API host), never for one an affiliate typed.
    """

    url: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    group: tuple[Any, ...] = ()
    checked: bool = True


@dataclass(frozen=True)
class Answer:
    """What one answer means for every event sent with it. ``outcome``:
    ``sent``, ``retry`` or ``failed``. ``per_event``: the platform refused the
    whole request for what may be one event's fault (the request is halved
    to find it). ``retry_after``: seconds the platform asked to wait."""

    outcome: str
    error: str = ""
    per_event: bool = False
    retry_after: float | None = None


# destination(delivery) -> Destination, or a text saying why it cannot be sent at all (it fails alone)
DestinationOf = Callable[[OutgoingDelivery], "Destination | str"]
# request(destination, deliveries) -> keyword arguments for requests' post(): json=, data=, headers=
RequestOf = Callable[[Destination, Sequence[OutgoingDelivery]], dict[str, Any]]
# answer(status_code, body_text, headers, destination) -> Answer
AnswerOf = Callable[[int, str, Mapping[str, str], Destination], Answer]


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), at least 1 and
    at most six hours; None when absent or unreadable."""
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


def read_answer(status_code: int, text: str, headers: Mapping[str, str], destination: Destination) -> Answer:
    """The plain reading of an HTTP answer: 2xx sent; 429 and 5xx retried
    (after ``Retry-After`` when given); anything else failed."""
    if 200 <= status_code < 300:
        return Answer("sent")
    if status_code == 429 or status_code >= 500:
        return Answer(
            "retry",
            f"answered HTTP {status_code}; trying again later",
            retry_after=retry_after_seconds(headers.get("Retry-After")),
        )
    return Answer("failed", f"answered HTTP {status_code}")


def mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each secret replaced by ``…`` and its last four characters."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "…" + secret[-4:])
    return text


@dataclass
class _Batch:
    destination: Destination
    deliveries: list[OutgoingDelivery]


def send_batches(
    deliveries: Sequence[OutgoingDelivery],
    config: Mapping[str, Any],
    *,
    receiver: str,
    destination: DestinationOf,
    request: RequestOf,
    answer: AnswerOf = read_answer,
    max_events: int = 1000,
    report: Callable[[DeliveryResult], None] | None = None,
) -> list[DeliveryResult]:
    """Send ``deliveries``; one result per delivery, in no set order.

    ``receiver`` names the platform in errors ("could not reach Meta").
    ``config`` is the plugin's config as its hook got it (its
    ``affnet.timeout_seconds``, ``affnet.parallelism`` and
    ``affnet.allow_private_targets`` are used). ``report``, the hook's own
    argument, gets each result as soon as its request is answered.
    """
    batches: dict[Destination, list[OutgoingDelivery]] = {}
    results: list[DeliveryResult] = []
    for delivery in deliveries:
        where = destination(delivery)
        if isinstance(where, str):
            results.append(DeliveryResult(delivery.id, "failed", error=where))
            continue
        batches.setdefault(where, []).append(delivery)
    if report:
        for result in results:
            report(result)
    work = [
        _Batch(where, group[start : start + max_events])
        for where, group in batches.items()
        for start in range(0, len(group), max_events)
    ]
    sender = _Sender(config, receiver, request, answer)

    def run(batch: _Batch) -> list[DeliveryResult]:
        done = sender.post(batch)
        if report:
            for result in done:
                report(result)
        return done

    workers = max(1, min(int(config.get("affnet.parallelism") or 4), len(work)))
    if workers == 1:
        for batch in work:
            results.extend(run(batch))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"send-{receiver}") as pool:
            for done in pool.map(run, work):
                results.extend(done)
    return results


class _Sender:
    def __init__(self, config: Mapping[str, Any], receiver: str, request: RequestOf, answer: AnswerOf):
        self.config, self.receiver, self.request, self.answer = config, receiver, request, answer

    def post(self, batch: _Batch) -> list[DeliveryResult]:
        """One request, and when the platform refused it for what may be one
        event, its halves until that event stands alone: about 2·log2(n) more
        requests for one bad event. When both halves are refused the fault is
        not one event's, and they keep the refusal."""
        results, per_event = self._post(batch)
        if not per_event or len(batch.deliveries) == 1:
            return results
        return self._isolate(batch)

    def _isolate(self, batch: _Batch) -> list[DeliveryResult]:
        middle = len(batch.deliveries) // 2
        halves = [_Batch(batch.destination, part) for part in (batch.deliveries[:middle], batch.deliveries[middle:])]
        answered = [(half, *self._post(half)) for half in halves]
        guilty = [half for half, _, refused in answered if refused]
        if len(guilty) != 1 or len(guilty[0].deliveries) == 1:
            return [result for _, results, _ in answered for result in results]
        innocent = [result for _, results, refused in answered if not refused for result in results]
        return innocent + self._isolate(guilty[0])

    def _session(self, where: Destination) -> requests.Session:
        if not where.checked:
            return requests.Session()
        return outbound_session(allow_private=bool(self.config.get("affnet.allow_private_targets")))

    def _post(self, batch: _Batch) -> tuple[list[DeliveryResult], bool]:
        where = batch.destination
        url = mask(where.url, where.secrets)
        timeout = self.config.get("affnet.timeout_seconds") or 10
        try:
            with self._session(where) as session:
                response = session.post(
                    where.url, timeout=timeout, allow_redirects=False, **self.request(where, batch.deliveries)
                )
        except requests.RequestException as error:
            if isinstance(error, TargetRefused):
                return self._all(batch, "failed", url, error=f"refused: {error.reason}"), False
            why = mask(
                f"could not reach {self.receiver} ({error.__class__.__name__}); trying again later", where.secrets
            )
            log.warning("%s: %d events not delivered to %s: %s", self.receiver, len(batch.deliveries), url, why)
            return self._all(batch, "retry", url, error=why), False
        said = self.answer(response.status_code, response.text, response.headers, where)
        log.info(
            "%s: %d events to %s, HTTP %s, %s",
            self.receiver,
            len(batch.deliveries),
            url,
            response.status_code,
            said.outcome,
        )
        return self._all(
            batch,
            said.outcome,
            url,
            status_code=response.status_code,
            response_excerpt=mask(response.text, where.secrets)[:EXCERPT_CHARACTERS],
            error=mask(said.error, where.secrets),
            retry_after=said.retry_after,
        ), said.per_event

    @staticmethod
    def _all(batch: _Batch, outcome: str, url: str, **facts: Any) -> list[DeliveryResult]:
        return [DeliveryResult(delivery.id, outcome, url=url, **facts) for delivery in batch.deliveries]
