"""The shapes that cross the plugin boundary, besides the event snapshots
of ``affnet.core.events``."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable


@dataclass(frozen=True)
class SettingField:
    """One field an affiliate fills in for a delivery kind or payout method.

    ``secret`` fields are encrypted at rest and shown only by their last four
    characters; ``url`` fields are checked to be absolute http(s) URLs.
    """

    name: str
    label: str
    secret: bool = False
    url: bool = False
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class DeliveryKind:
    """A kind of outgoing message a plugin sends (``postback``, ``fb_capi``).

    ``scope`` says where affiliates set it: ``participation`` (one per offer
    they promote, falling back to their ``affiliate``-wide setting) or
    ``affiliate`` only. ``presets`` maps a preset's name to field values.
    ``validate(values)`` returns ``{field: message}`` for faults and may add
    warnings under the key ``"_warnings"`` (a list); it is optional.
    """

    name: str
    label: str
    fields: tuple[SettingField, ...]
    scope: str = "participation"
    presets: dict = field(default_factory=dict)
    description: str = ""
    validate: Callable[[dict], dict] | None = None


@dataclass(frozen=True)
class NewDelivery:
    """A message to store in the outbox with the event: the plugin's own
    ``payload`` (JSON-serialisable, no secrets: those come back as settings
    at send time)."""

    kind: str
    payload: dict


@dataclass(frozen=True)
class OutgoingDelivery:
    """A due delivery handed to its plugin to send.

    ``settings`` are the values of the setting version recorded with the
    delivery, secrets decrypted; ``attempts`` counts earlier tries.
    """

    id: int
    kind: str
    payload: dict
    settings: dict
    attempts: int
    is_test: bool
    created_at: datetime


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one delivery. ``outcome``: ``sent``; ``retry`` (a
    transient fault, tried again later with backoff); ``failed`` (permanent,
    never retried). ``url`` must have secrets masked; ``response_excerpt`` is
    cut to 500 characters by the core. ``retry_after`` (seconds) overrides the
    backoff when the receiver asked for a delay."""

    delivery_id: int
    outcome: str
    url: str = ""
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class PayoutRequest:
    """One payout to send: ``idempotency_key`` is stable for this payout, so a
    retry after a crash never pays twice."""

    payout_id: int
    affiliate_id: int
    amount: Any  # Decimal
    currency: str
    details: dict
    idempotency_key: str


@dataclass(frozen=True)
class PayoutResult:
    """``outcome``: ``sent`` (with the provider's ``external_id``), ``retry``
    or ``failed`` (with ``error``)."""

    outcome: str
    external_id: str | None = None
    error: str = ""


@dataclass(frozen=True)
class PayoutMethod:
    """A way to pay affiliates (USDT, Wise, PayPal).

    ``fields`` are what the affiliate fills in; ``validate(details)`` returns
    ``{field: message}``; ``send(request, config)`` returns a PayoutResult
    and must pass ``request.idempotency_key`` to the provider.
    """

    name: str
    label: str
    fields: tuple[SettingField, ...]
    currencies: tuple[str, ...]
    send: Callable[[PayoutRequest, dict], PayoutResult]
    validate: Callable[[dict], dict] | None = None
