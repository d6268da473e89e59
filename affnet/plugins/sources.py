"""What a plugin that brings events in (an ingest source, such as the Stripe
webhook) uses: the offer named in its route, the offer's own secrets, and
the ingest API's parsing and recording, so an event that arrives by a plugin
is checked and booked exactly as ``/api/ingest/*`` books it."""

from flask import current_app

from ..core.events.ingest import IngestError, Outcome, parse_call, parse_conversion, parse_reversal
from ..core.storage.models import Offer
from ..core.network.offer_secrets import get_offer_secret, offer_secret_hint, set_offer_secret
from ..core.network.webhook_calls import record_call

__all__ = [
    "IngestError",
    "Outcome",
    "find_offer",
    "get_offer_secret",
    "offer_secret_hint",
    "parse_call",
    "parse_conversion",
    "parse_reversal",
    "record",
    "record_webhook_call",
    "set_offer_secret",
]


def find_offer(slug: str) -> Offer | None:
    """The offer with this slug, or None."""
    return Offer.get_or_none(Offer.slug == slug)


def record(offer: Offer, value, source: str) -> Outcome:
    """Record a parsed call (``parse_call``) with the app's recorder, in a
    request of the app, as the ingest API records it: the event, its ledger
    entry and its deliveries, idempotent. ``source`` names your plugin in
    the event (``stripe``)."""
    return current_app.extensions["affnet"].recorder.record(offer, value, source=source)


def record_webhook_call(offer: Offer, source: str, status_code: int, event_type: str = "", result: str = "") -> None:
    """Show one call of your webhook on the offer's page (the last 20 of the
    newest 50 kept): the status you answered, the provider's event type (empty
    when unknown) and what came of it in a few words (``recorded tx_… (attributed)``,
    ``ignored: …``, ``refused: …``), never a secret. Call it for every call,
    refused ones included, under the ``calls_source`` of your
    ``OfferIntegration``. It never raises and never changes your answer."""
    record_call(offer, source, status_code, event_type, result)
