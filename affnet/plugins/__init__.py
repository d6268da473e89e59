"""Everything a plugin imports from affnet, besides ``affnet.hookimpl`` and,
in its tests, ``affnet.testing``. Anything else in affnet may change between
versions without notice; a test holds the bundled plugins to this surface.

- The shapes that cross the boundary (``affnet.plugins.types``).
- Money and time: ``minor_units``, ``round_money``, ``format_amount``, ``now``,
  ``unix_seconds``.
- Outbound calls to addresses an affiliate typed, refused when they point
  inside the operator's network: ``outbound_session`` (requests),
  ``outbound_client_session`` and ``run_outbound`` (aiohttp, on affnet's
  outbound event loop), ``refusal_in``, ``UnresolvableHost``.
- Conversion-API senders (``affnet.plugins.senders``): ``send_batches``,
  ``Destination``, ``Answer``, ``read_answer``, ``retry_after_seconds``, ``mask``.
- A URL an affiliate typed, fit for a log or a page: ``mask_url``.
- Texts for the pages: ``N_`` marks one for translation (see the
  ``translation_directories`` hook).
- Commands: ``JSON_OPTION``, ``emit``, ``with_db``, and ``settings_set`` (the
  ``affnet settings set`` command, to invoke from a command of your own).
- Ingest sources (``affnet.plugins.sources``): ``find_offer``,
  ``get_offer_secret`` / ``set_offer_secret`` / ``offer_secret_hint``,
  ``parse_call`` (and ``parse_conversion`` / ``parse_reversal``), ``IngestError``,
  ``record``, ``record_webhook_call`` (for the offer's page, see ``OfferIntegration``).

The names outside ``types`` are loaded when first used, so importing this
package from affnet's own core never makes an import circle.
"""

from importlib import import_module
from typing import Any

from .types import (
    ClickInfo,
    ConfigKey,
    DeliveryKind,
    DeliveryResult,
    EventInfo,
    NewDelivery,
    OfferInfo,
    OfferIntegration,
    OutgoingDelivery,
    PayoutMethod,
    PayoutRequest,
    PayoutResult,
    SettingField,
    Snippet,
)

_LAZY = {
    "minor_units": "affnet.core.earnings.money",
    "round_money": "affnet.core.earnings.money",
    "format_amount": "affnet.core.earnings.money",
    "now": "affnet.core.clock",
    "unix_seconds": "affnet.core.clock",
    "outbound_session": "affnet.net",
    "outbound_client_session": "affnet.net",
    "run_outbound": "affnet.net",
    "refusal_in": "affnet.net",
    "UnresolvableHost": "affnet.net",
    "mask_url": "affnet.core.storage.secrets",
    "JSON_OPTION": "affnet.commands.common",
    "emit": "affnet.commands.common",
    "with_db": "affnet.commands.common",
    "settings_set": "affnet.commands.settings",
    **{
        name: "affnet.plugins.senders"
        for name in ("send_batches", "Destination", "Answer", "read_answer", "retry_after_seconds", "mask")
    },
    **{
        name: "affnet.plugins.sources"
        for name in (
            "find_offer",
            "get_offer_secret",
            "set_offer_secret",
            "offer_secret_hint",
            "parse_call",
            "parse_conversion",
            "parse_reversal",
            "IngestError",
            "record",
            "record_webhook_call",
        )
    },
}


def N_(text: str) -> str:
    """Mark ``text`` for ``pybabel extract`` and return it as it is: the pages
    translate a plugin's label, help or message where they show it."""
    return text


__all__ = [
    "N_",
    "ClickInfo",
    "ConfigKey",
    "EventInfo",
    "OfferInfo",
    "OfferIntegration",
    "DeliveryKind",
    "DeliveryResult",
    "NewDelivery",
    "OutgoingDelivery",
    "PayoutMethod",
    "PayoutRequest",
    "PayoutResult",
    "SettingField",
    "Snippet",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'affnet.plugins' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
