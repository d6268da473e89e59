"""An affnet event as a Conversions API server event.

The payload stored in the outbox is the server event itself, with one
difference: ``custom_data.value`` is kept as a decimal string (the outbox
stores JSON, and money never passes through a float); ``graph`` writes it to
Meta as a JSON number with exactly those digits. Nothing secret is stored:
the pixel's token comes back as settings at send time.
"""

import hashlib
from datetime import datetime
from decimal import Decimal

from affnet.plugins import minor_units, unix_seconds

EVENT_NAMES = {"lead": "Lead", "trial": "StartTrial", "sale": "Purchase", "rebill": "Purchase"}


def unix_millis(moment: datetime) -> int:
    return unix_seconds(moment) * 1000 + moment.microsecond // 1000


def event_id_of(event) -> str:
    """The event's txid: stable across retries and duplicate reports, and the
    id a browser pixel must send as ``eventID`` for Meta to deduplicate."""
    return event.txid


def fbc_of(click) -> str | None:
    """``fb.1.{click time in ms}.{fbclid}``: Meta's click id, built the way
    its pixel builds the ``_fbc`` cookie when the visitor lands."""
    if click is None or not click.fbclid:
        return None
    return f"fb.1.{unix_millis(click.created_at)}.{click.fbclid}"


def hashed_external_id(user_ref: str | None) -> str | None:
    """SHA-256 of the product owner's customer id, normalised as Meta asks
    (leading and trailing spaces trimmed, lowercased)."""
    if not user_ref or not user_ref.strip():
        return None
    return hashlib.sha256(user_ref.strip().lower().encode("utf-8")).hexdigest()


def decimal_text(amount: Decimal, currency: str) -> str:
    """The amount's exact digits, with at least the currency's decimals."""
    exponent = amount.normalize().as_tuple().exponent
    places = max(minor_units(currency), -exponent if isinstance(exponent, int) else 0)
    return f"{amount:.{places}f}"


def user_data_of(event) -> dict:
    user_data = {}
    external_id = hashed_external_id(event.user_ref)
    if external_id:
        user_data["external_id"] = [external_id]
    click = event.click
    if click is not None:
        if click.ip:
            user_data["client_ip_address"] = click.ip
        if click.user_agent:
            user_data["client_user_agent"] = click.user_agent
        fbc = fbc_of(click)
        if fbc:
            user_data["fbc"] = fbc
    return user_data


def server_event(event) -> dict | None:
    """The Conversions API event for an affnet event, or None when Meta gets
    nothing for it (refunds, chargebacks, or nothing to match a person by).

    ``action_source`` is ``website`` when the click's browser is known; an
    event with no click left (a rebill attributed by customer) is
    ``system_generated``, as Meta asks for automatic renewals, because a
    website event without a user agent would make Meta refuse the whole batch.
    A test event (``is_test``) made up without a customer or an amount gets a
    stand-in customer id and its payout as the value, so it still reaches
    Meta's Test events.
    """
    name = EVENT_NAMES.get(event.kind)
    if name is None:
        return None
    user_data = user_data_of(event)
    if not user_data and event.is_test:
        # A made-up test event has no customer: Meta still needs one identifier.
        user_data = {"external_id": [hashed_external_id("affnet-test-" + event.txid)]}
    if not user_data:
        return None
    website = "client_user_agent" in user_data and bool(event.offer.landing_url)
    server = {
        "event_name": name,
        "event_time": unix_seconds(event.occurred_at),
        "event_id": event_id_of(event),
        "action_source": "website" if website else "system_generated",
        "user_data": user_data,
    }
    if event.offer.landing_url:
        server["event_source_url"] = event.offer.landing_url
    if name == "Purchase":
        amount, currency = event.gross_amount, event.currency or event.offer.currency
        if amount is None and event.is_test:
            amount, currency = abs(event.payout), event.payout_currency
        if amount is not None:
            server["custom_data"] = {"value": decimal_text(amount, currency), "currency": currency.lower()}
    return server
