"""What a plugin that brings events in (an ingest source, such as the Stripe
webhook) uses: the offer named in its route, the offer's own secrets, and
the ingest API's parsing and recording, so an event that arrives by a plugin
is checked and booked exactly as ``/api/ingest/*`` books it."""

from flask import current_app

from ..core.events.ingest import IngestError, Outcome, parse_call, parse_conversion, parse_reversal
from ..core.storage.models import Offer
from ..core.network.offer_secrets import get_offer_secret, offer_secret_hint, set_offer_secret

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
