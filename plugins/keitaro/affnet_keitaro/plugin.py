"""The hooks of the ``keitaro`` plugin: the ``postback`` delivery kind."""

from pathlib import Path

from affnet import hookimpl
from affnet.plugins import DeliveryKind, N_, NewDelivery, SettingField

from . import sender, template
from .presets import PRESETS

KIND = "postback"

POSTBACK = DeliveryKind(
    name=KIND,
    label=N_("Postback to your tracker"),
    fields=(
        SettingField(
            "url",
            N_("Postback URL"),
            url=True,
            required=True,
            help=N_("A GET URL with macros such as {clickid} {status} {payout} {currency} {txid}."),
        ),
    ),
    scope="participation",
    presets={preset.name: {"url": preset.template} for preset in PRESETS},
    description=N_(
        "A server-to-server GET to your own tracker (Keitaro, Binom, Voluum, RedTrack...) on every "
        "event of your traffic: lead, trial, sale, rebill, refund and chargeback."
    ),
    validate=template.validate,
)


@hookimpl
def delivery_kinds():
    return [POSTBACK]


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]


@hookimpl
def deliveries_for_event(event, settings):
    """The event's macro values, not the URL: the URL may carry the tracker's
    password or API key, and a payload is stored as it is. The sender expands
    the template of the setting version recorded with the delivery (the one
    in force when the event happened), so the 24-hour rule holds."""
    values = settings.get(KIND)
    if not values or not values.get("url"):
        return []
    return [NewDelivery(KIND, {"macros": template.macro_values(event), "test": event.is_test})]


@hookimpl
def send_deliveries(kind, deliveries, config, report):
    if kind != KIND:
        return None
    return sender.Batch(config).send(deliveries, report)


@hookimpl
def config_keys():
    return []  # no [plugin.*] section: a key set there is a typo
