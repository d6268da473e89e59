"""A plugin written the way a third party would, used by the core's tests.

It declares one delivery kind ``sample`` with a secret field, records what
it is asked to send, and answers as ``script`` says (a list of outcomes to
give, one per send; ``sent`` when empty)."""

import click

from pathlib import Path

from affnet import hookimpl
from affnet.plugins import DeliveryKind, DeliveryResult, NewDelivery, PayoutMethod, PayoutResult, SettingField

sent: list = []
script: list = []
recorded_events: list = []
jobs_run: list = []

KIND = DeliveryKind(
    name="sample",
    label="Sample receiver",
    fields=(SettingField("url", "URL", url=True, required=True), SettingField("token", "Token", secret=True)),
    presets={"default": {"url": "https://receiver.example/hit"}},
)


def reset():
    sent.clear(), script.clear(), recorded_events.clear(), jobs_run.clear()


@hookimpl
def delivery_kinds():
    return [KIND]


@hookimpl
def deliveries_for_event(event, settings):
    if "sample" not in settings:
        return []
    return [
        NewDelivery(
            "sample", {"txid": event.txid, "kind": event.kind, "payout": str(event.payout), "test": event.is_test}
        )
    ]


@hookimpl
def send_deliveries(kind, deliveries, config):
    if kind != "sample":
        return None
    results = []
    for delivery in deliveries:
        sent.append((delivery.payload, delivery.settings))
        outcome = script.pop(0) if script else "sent"
        results.append(
            DeliveryResult(
                delivery.id,
                outcome,
                url=delivery.settings.get("url", ""),
                status_code=200 if outcome == "sent" else 503,
                error="" if outcome == "sent" else "receiver said no",
            )
        )
    return results


@hookimpl
def on_event_recorded(event):
    recorded_events.append(event)


@hookimpl
def register_routes():
    from flask import Blueprint

    bp = Blueprint("sample", __name__, url_prefix="/r")  # the core mounts it at /hooks/sample/ anyway
    bp.add_url_rule("/ping", "ping", lambda: {"pong": True})
    return bp


@hookimpl
def register_commands(cli):
    @cli.command("sample-hello")
    def hello():
        """Say hello from the sample plugin."""
        click.echo("hello from sample")


@hookimpl
def payout_methods():
    return [
        PayoutMethod(
            "sample_pay",
            "Sample pay",
            (SettingField("account", "Account", required=True),),
            ("USD",),
            send=lambda request, config: PayoutResult("sent", external_id="x-1"),
        )
    ]


CATALOGS = str(Path(__file__).parent / "sample_translations")


@hookimpl
def translation_directories():
    return [CATALOGS]


@hookimpl
def register_jobs(scheduler, app):
    scheduler.every(1).hours.do(lambda: jobs_run.append("hourly"))


@hookimpl
def config_keys():
    from affnet.plugins import ConfigKey

    return [
        ConfigKey("endpoint", str, "https://default.example/", "Where the sample sends."),
        ConfigKey("retries", int, 3, "How often it tries."),
    ]
