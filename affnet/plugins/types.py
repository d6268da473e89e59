"""The shapes that cross the plugin boundary.

Plugins never receive database rows. An event reaches them as ``EventInfo``
(with its ``OfferInfo`` and ``ClickInfo``): small frozen snapshots the core
builds in the event's transaction, so a plugin cannot change the books by
accident, and the shape it sees is documented here in one place.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ClickInfo:
    """The click an event is attributed to, as ``/r`` recorded it.

    ``created_at`` is naive UTC. Texts are as the link sent them (NUL removed,
    cut to 255 characters; the user agent to 1,000); a parameter the link
    did not carry, or carried empty, is None. ``subs`` always has the ten
    keys ``sub1``…``sub10``. ``ad_click_ids`` holds the ad platforms' click ids
    the link carried, by parameter name (``{"gclid": "…", "ttclid": "…"}``;
    the names are listed in docs/plugins.md), and nothing for the others.
    """

    click_id: str
    created_at: datetime
    clickid: str | None
    fbclid: str | None
    ip: str | None
    user_agent: str | None
    subs: dict[str, str | None] = field(default_factory=dict)
    ad_click_ids: dict[str, str] = field(default_factory=dict)

    @property
    def tracker_click_id(self) -> str:
        """The affiliate tracker's id: the link's ``clickid``, else ``s1``, else ours."""
        return self.clickid or self.subs.get("sub1") or self.click_id


@dataclass(frozen=True)
class OfferInfo:
    id: int
    slug: str
    name: str
    landing_url: str
    currency: str


@dataclass(frozen=True)
class EventInfo:
    """One recorded event, as plugins see it.

    ``payout`` is the affiliate's commission for this event in
    ``payout_currency`` (negative for a refund or chargeback). ``click`` is
    None for an unattributed event or one attributed by ``user_ref`` whose
    first click is gone. ``is_test`` marks a test send from the settings page.
    """

    txid: str
    kind: str  # lead, trial, sale, rebill, refund, chargeback
    status: str  # lead, sale, rejected
    occurred_at: datetime
    offer: OfferInfo
    attributed: bool
    affiliate_id: int | None
    participation_id: int | None
    ref_code: str | None
    payout: Decimal
    payout_currency: str
    gross_amount: Decimal | None
    currency: str | None
    user_ref: str | None
    external_payment_id: str | None
    is_first_payment: bool
    click: ClickInfo | None
    is_test: bool = False


@dataclass(frozen=True)
class SettingField:
    """One field an affiliate fills in for a delivery kind or payout method.

    ``secret`` fields are encrypted at rest and shown only by their last four
    characters; ``url`` fields are checked to be absolute http(s) URLs, encrypted
    at rest too (a URL may carry a password or an API key) and shown through
    ``mask_url``.
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
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    validate: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True)
class NewDelivery:
    """A message to store in the outbox with the event: the plugin's own
    ``payload`` (JSON-serialisable, no secrets: those come back as settings
    at send time)."""

    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class OutgoingDelivery:
    """A due delivery handed to its plugin to send.

    ``settings`` are the values of the setting version recorded with the
    delivery, secrets decrypted; ``attempts`` counts earlier tries.
    """

    id: int
    kind: str
    payload: dict[str, Any]
    settings: dict[str, Any]
    attempts: int
    is_test: bool
    created_at: datetime


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one delivery. ``outcome``: ``sent``; ``retry`` (a
    transient fault, tried again later with backoff); ``failed`` (permanent,
    never retried). ``url`` must have secrets masked (``mask_url``); ``response_excerpt`` is
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
    """One payout to send, poll or export.

    ``idempotency_key`` (``affnet-payout-<network key>-<id>``) is the same on every call for
    this payout: pass it to the provider so that a send repeated after a
    crash or a timeout finds the payment already made instead of making a
    second one. ``details`` are the affiliate's fields of this method, as
    validated. ``external_id`` is what an earlier call answered (None before
    the first answer was recorded). ``reference`` is a short text for the
    recipient's statement (``affnet payout 42``)."""

    payout_id: int
    affiliate_id: int
    amount: Decimal
    currency: str
    details: dict[str, Any]
    idempotency_key: str
    reference: str = ""
    external_id: str | None = None


@dataclass(frozen=True)
class PayoutResult:
    """What a send or a poll found.

    ``outcome``: ``completed`` (the money reached the recipient's account),
    ``sent`` (the provider took it; poll later), ``retry`` (nothing is known
    to have happened, such as a timeout or a 5xx: the same request is made
    again later with the same key) or ``failed`` (the provider refused or
    gave the money back; ``error`` says why, in the provider's words).
    ``external_id`` is the provider's id of the payment; ``note`` is for the
    operator (``created in Wise: fund it there``)."""

    outcome: str
    external_id: str | None = None
    error: str = ""
    note: str = ""


@dataclass(frozen=True)
class PayoutMethod:
    """A way to pay affiliates (USDT, Wise, PayPal).

    - ``fields``: what the affiliate fills in; ``validate(details)`` returns
      ``{field: message}`` for what is wrong (empty when all is right).
    - ``currencies``: the currencies it pays (empty: any).
    - ``send(request, config)`` makes the payment and returns a
      ``PayoutResult``; it must be safe to call again with the same request.
    - ``poll(request, config)`` asks the provider about a payout it took
      (``request.external_id``); None when a send's answer is final.
    - ``export(requests, config)`` returns ``(file name, bytes)``: a
      mass-transfer file for the operator's wallet or bank, for methods the
      operator pays by hand.
    - ``check_reference(details, reference)``: for those, the reference the
      operator records once paid (a transaction hash) is checked here;
      returns what is wrong with it, or None.
    - ``destination(details)``: where the money goes, in one line, for the
      operator's books (default: the fields' values).
    - ``credentials``: the operator's own fields (an API token, a client
      secret), set with ``affnet payouts credentials``, encrypted at rest
      and passed to ``send`` and ``poll`` in ``config`` with the plugin's
      config section.
    """

    name: str
    label: str
    fields: tuple[SettingField, ...]
    currencies: tuple[str, ...]
    send: Callable[[PayoutRequest, dict[str, Any]], PayoutResult]
    validate: Callable[[dict[str, Any]], dict[str, str]] | None = None
    poll: Callable[[PayoutRequest, dict[str, Any]], PayoutResult] | None = None
    export: Callable[[list[PayoutRequest], dict[str, Any]], tuple[str, bytes]] | None = None
    check_reference: Callable[[dict[str, Any], str], str | None] | None = None
    destination: Callable[[dict[str, Any]], str] | None = None
    credentials: tuple[SettingField, ...] = ()


_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class Snippet:
    """Code for a product owner to copy, already filled in with the offer's
    values (the network's address, the offer's slug). ``language`` names it
    for the page (``python``, ``javascript``, ``html``, ``shell``). Never put
    a secret in it: the page shows it to whoever may see the offer."""

    label: str
    language: str
    code: str


@dataclass(frozen=True)
class OfferIntegration:
    """A way for a product owner to connect an offer to a provider (a payment
    provider's webhook), shown on the offer's page at
    ``/owner/offers/<slug>/integrations/<name>``.

    - ``name``: one path segment (lower-case letters, digits, ``_``, ``-``).
    - ``title``, ``description``: the page's heading and its first paragraph.
    - ``steps``: what to do on the provider's side, in order, one text each.
    - ``facts``: ``(label, value)`` pairs to copy (the webhook URL, the events
      to select); the value is shown as it is, with a copy button.
    - ``secret``: a field the owner sets, write-only (a signing secret): the
      core stores it encrypted as the offer's secret named ``secret.name``
      (read it back with ``get_offer_secret``) and shows only when it was set
      and its last four characters. ``check_secret(value)`` returns why a
      value is not one (a text to translate), or None.
    - ``snippets``: code to copy (``Snippet``), filled in for this offer.
    - ``calls_source``: the source your webhook records its calls under
      (``record_webhook_call``); the page lists the last ones.

    Texts (title, description, steps, labels, the check's message) are
    translated on the page: mark them with ``N_``.
    """

    name: str
    title: str
    description: str = ""
    steps: Sequence[str] = ()
    facts: Sequence[tuple[str, str]] = ()
    secret: SettingField | None = None
    check_secret: Callable[[str], str | None] | None = None
    snippets: Sequence[Snippet] = ()
    calls_source: str | None = None

    def __post_init__(self) -> None:
        if not _SEGMENT.fullmatch(self.name):
            raise ValueError(f"integration {self.name!r}: use lower-case letters, digits, _ and - only")


_CONFIG_TYPES: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
}


@dataclass(frozen=True)
class ConfigKey:
    """One key of a plugin's ``[plugin.<name>]`` config section.

    ``type`` is ``str``, ``int``, ``float``, ``bool`` or ``list``; ``default``
    is what the plugin gets when the key is not set (None: nothing). A
    ``secret`` key's value is never printed by ``affnet config show``. The
    name is a plain identifier: the core's own values that a plugin receives
    are named ``affnet.<name>``, so the two never clash."""

    name: str
    type: type[Any]
    default: Any
    help: str
    secret: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"config key {self.name!r}: use letters, digits and _ only")
        if self.type not in _CONFIG_TYPES:
            raise ValueError(f"config key {self.name!r}: type must be one of str, int, float, bool, list")

    def check(self, value: Any) -> str | None:
        """Why ``value`` does not fit this key, or None."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return None
        if isinstance(value, bool) != (self.type is bool) or not isinstance(value, self.type):
            return f"must be {_CONFIG_TYPES[self.type]}"
        return None
