"""The hooks of the ``keitaro`` plugin: the ``postback`` delivery kind."""

from affnet import hookimpl
from affnet.plugins import DeliveryKind, NewDelivery, SettingField

from . import sender, template
from .presets import PRESETS

KIND = "postback"

POSTBACK = DeliveryKind(
    name=KIND,
    label="Postback to your tracker",
    fields=(
        SettingField(
            "url",
            "Postback URL",
            url=True,
            required=True,
            help="A GET URL with macros such as {clickid} {status} {payout} {currency} {txid}.",
        ),
    ),
    scope="participation",
    presets={preset.name: {"url": preset.template} for preset in PRESETS},
    description="A server-to-server GET to your own tracker (Keitaro, Binom, Voluum, RedTrack...) on every "
    "event of your traffic: lead, trial, sale, rebill, refund and chargeback.",
    validate=template.validate,
)


@hookimpl
def delivery_kinds():
    return [POSTBACK]


@hookimpl
def deliveries_for_event(event, settings):
    values = settings.get(KIND)
    if not values or not values.get("url"):
        return []
    url = template.expand(values["url"], event)
    return [NewDelivery(KIND, {"url": template.with_test_flag(url) if event.is_test else url})]


@hookimpl
def send_deliveries(kind, deliveries, config, report):
    if kind != KIND:
        return None
    return sender.Batch(config).send(deliveries, report)


@hookimpl
def config_keys():
    return []  # no [plugin.*] section: a key set there is a typo
