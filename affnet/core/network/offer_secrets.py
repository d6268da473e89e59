"""Secrets a plugin keeps per offer, encrypted at rest (for example the
Stripe signing secret of an offer's webhook). Shown again only as a hint."""

from datetime import datetime

from .. import clock
from . import audit
from ..storage.db import db
from ..storage.models import Offer, OfferSecret
from ..storage.secrets import hint, keyring


def set_offer_secret(offer: Offer, name: str, value: str) -> None:
    encrypted = keyring.encrypt(value)
    with db.atomic():
        updated = (
            OfferSecret.update(value=encrypted, hint=hint(value), updated_at=clock.now())
            .where((OfferSecret.offer == offer.id) & (OfferSecret.name == name))
            .execute()
        )
        if not updated:
            OfferSecret.create(offer=offer, name=name, value=encrypted, hint=hint(value))
        audit.record("offer.secret", offer.slug, {name: dict(audit.SECRET)}, offer=offer)


def get_offer_secret(offer: Offer, name: str) -> str | None:
    row = OfferSecret.get_or_none((OfferSecret.offer == offer.id) & (OfferSecret.name == name))
    return keyring.decrypt(row.value) if row else None


def reencrypt_offer_secrets() -> int:
    count = 0
    for row in OfferSecret.select():
        OfferSecret.update(value=keyring.rotate(row.value)).where(OfferSecret.id == row.id).execute()
        count += 1
    return count


def offer_secret_hint(offer: Offer, name: str) -> str | None:
    """What may be shown of a saved secret (its last four characters), or None."""
    row = OfferSecret.get_or_none((OfferSecret.offer == offer.id) & (OfferSecret.name == name))
    return row.hint if row else None


def offer_secret_saved(offer: Offer, name: str) -> tuple[str, datetime] | None:
    """(hint, when it was last set) of a saved secret, or None: all a page may show of it."""
    row = OfferSecret.get_or_none((OfferSecret.offer == offer.id) & (OfferSecret.name == name))
    return (row.hint, row.updated_at) if row else None
