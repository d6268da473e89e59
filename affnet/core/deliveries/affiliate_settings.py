"""An affiliate's delivery settings as people see them (on a page or in the
terminal): presets, the versions in force and pending, a test send's event
and values, a delivery with its attempts. ``affnet settings`` and the
settings pages share these."""

import secrets as _random
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from .. import clock
from ...plugins.types import ClickInfo, EventInfo, OfferInfo
from ..storage.secrets import unmask_url
from ..storage.models import REVERSAL_KINDS, STATUS_OF_EVENT, Delivery, Participation, User
from . import setting_versions


class SettingsChoiceError(ValueError):
    """A preset that does not exist, or nothing to test."""


def with_preset(kind, preset_name: str | None, given: dict) -> dict:
    """The preset's values overlaid with ``given``. A URL given without a
    query keeps the preset's parameters: ``url=https://my-tracker.com/postback``
    plus a preset gives that address with the preset's query."""
    if preset_name is None:
        return dict(given)
    if preset_name not in kind.presets:
        raise SettingsChoiceError(
            f"no preset {preset_name!r} for {kind.name} (presets: {', '.join(kind.presets) or 'none'})"
        )
    values = dict(kind.presets[preset_name])
    url_fields = {field.name for field in kind.fields if field.url}
    for name, value in given.items():
        preset_value = values.get(name)
        if name in url_fields and preset_value and value and not urlsplit(value).query:
            value = urlunsplit(urlsplit(value)._replace(query=urlsplit(preset_value).query))
        values[name] = value
    return values


def version_row(version) -> dict:
    return {
        "version": version.id,
        "enabled": version.enabled,
        "values": setting_versions.masked_values(version.values),
        "saved_at": version.created_at,
        "effective_at": version.effective_at,
    }


def describe_versions(kind, affiliate: User, participation: Participation | None, now=None) -> dict:
    """The active version, the pending ones and the history of one scope,
    secrets masked; ``falls_back_to`` is the affiliate-wide version in force
    when a participation has none of its own."""
    now = now or clock.now()
    history = setting_versions.history(kind.name, affiliate.id, participation.id if participation else None)
    active = next((version for version in history if version.effective_at <= now), None)
    pending = sorted((version for version in history if version.effective_at > now), key=lambda v: v.effective_at)
    result = {
        "kind": kind.name,
        "affiliate": affiliate.email,
        "ref": participation.ref_code if participation else None,
        "active": version_row(active) if active else None,
        "pending": [version_row(version) for version in pending],
        "history": [version_row(version) for version in history],
    }
    if active is None and participation is not None:
        wide = setting_versions.version_in_force(kind.name, affiliate.id, None, now)
        result["falls_back_to"] = version_row(wide) if wide else None
    return result


def sample_event(affiliate: User, participation: Participation | None, event: str, clickid: str, now) -> EventInfo:
    """A made-up event for a test send: marked ``is_test``, never stored, touching no money."""
    offer = participation.offer if participation else None
    currency = offer.currency if offer else "USD"
    payout = Decimal("-1.00") if event in REVERSAL_KINDS else Decimal("1.00")
    return EventInfo(
        txid="test_" + _random.token_urlsafe(9),
        kind=event,
        status=STATUS_OF_EVENT[event],
        occurred_at=now,
        offer=OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency)
        if offer
        else OfferInfo(0, "test", "Test offer", "", currency),
        attributed=True,
        affiliate_id=affiliate.id,
        participation_id=participation.id if participation else None,
        ref_code=participation.ref_code if participation else None,
        payout=payout,
        payout_currency=currency,
        gross_amount=None,
        currency=None,
        user_ref=None,
        external_payment_id=None,
        is_first_payment=False,
        click=ClickInfo("test_click", now, clickid, None, None, None, {f"sub{n}": None for n in range(1, 11)}),
        is_test=True,
    )


def test_values(kind, affiliate: User, participation: Participation | None, given: dict) -> tuple[dict, int | None]:
    """What a test send uses: the newest saved version (in force or pending)
    with ``given`` laid over it (a field not given keeps its saved value,
    secrets included; a URL as shown, with its ``***``, keeps the saved
    secrets in their places), and that version's id when nothing was given."""
    history = setting_versions.history(kind.name, affiliate.id, participation.id if participation else None)
    newest = max(history, key=lambda version: version.created_at, default=None)
    if not given and newest is None:
        raise SettingsChoiceError("nothing to test: give values or save a version first")
    saved = setting_versions.decrypt_values(newest.values) if newest is not None else {}
    urls = {field.name for field in kind.fields if field.url}
    given = {
        name: unmask_url(value, saved.get(name) or "") if name in urls and isinstance(value, str) else value
        for name, value in given.items()
    }
    return {**saved, **given}, (newest.id if newest is not None and not given else None)


def delivery_row(delivery: Delivery, attempts) -> dict:
    event = delivery.event if delivery.event_id else None
    return {
        "id": delivery.id,
        "kind": delivery.kind,
        "status": delivery.status,
        "is_test": delivery.is_test,
        "txid": event.txid if event else None,
        "event": event.kind if event else None,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending" else None,
        "sent_at": delivery.sent_at,
        "last_error": delivery.last_error,
        "log": [
            {
                "at": attempt.at,
                "outcome": attempt.outcome,
                "url": attempt.url,
                "status_code": attempt.status_code,
                "excerpt": attempt.response_excerpt,
                "error": attempt.error,
            }
            for attempt in attempts
        ],
    }
