"""The hooks of the Facebook Conversions API plugin (entry point ``fb_capi``).

Config, ``[plugin.fb_capi]``: ``graph_base_url`` (default
https://graph.facebook.com) and ``graph_version`` (default v26.0). Command:
``affnet fb-capi set`` (the access token from a prompt or a file, never the
command line).
"""

from pathlib import Path

import re

from affnet import hookimpl
from affnet.plugins import N_
from affnet.plugins.types import ConfigKey, DeliveryKind, NewDelivery, SettingField

from . import KIND, graph
from .events import server_event

__all__ = ["KIND", "PIXEL"]
_PIXEL_ID = re.compile(r"^\d{5,20}$")


def validate_settings(values: dict) -> dict:
    faults, warnings = {}, []
    pixel_id = (values.get("pixel_id") or "").strip()
    if pixel_id and not _PIXEL_ID.match(pixel_id):
        faults["pixel_id"] = N_("must be the number Events Manager shows for your pixel (digits only)")
    token = values.get("access_token") or ""
    if token and (token != token.strip() or " " in token):
        faults["access_token"] = N_("must be pasted without spaces")
    code = values.get("test_event_code") or ""
    if code and (code != code.strip() or " " in code):
        faults["test_event_code"] = N_("must be pasted without spaces")
    elif code:
        warnings.append(
            N_(
                "While a Test Event Code is set, every event is sent with it and shows in Events "
                "Manager under Test events; remove it once your setup is checked."
            )
        )
    if warnings:
        faults["_warnings"] = warnings
    return faults


PIXEL = DeliveryKind(
    name=KIND,
    label=N_("Facebook pixel (Conversions API)"),
    fields=(
        SettingField(
            "pixel_id",
            N_("Pixel ID"),
            required=True,
            help=N_("Events Manager, your pixel (data source), Settings: the Pixel ID."),
        ),
        SettingField(
            "access_token",
            N_("Conversions API access token"),
            secret=True,
            required=True,
            help=N_(
                "Events Manager, Settings, Conversions API: Generate access token. "
                "Shown once by Meta; after saving, only its last four characters are shown here."
            ),
        ),
        SettingField(
            "test_event_code",
            N_("Test Event Code"),
            help=N_(
                "Events Manager, Test events (such as TEST12345). Needed for a test send; "
                "while set, every event goes out as a test event."
            ),
        ),
    ),
    scope="participation",
    description=N_("Sends Lead, StartTrial and Purchase to your own Meta pixel, server to server."),
    validate=validate_settings,
)


@hookimpl
def delivery_kinds():
    return [PIXEL]


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]


@hookimpl
def deliveries_for_event(event, settings):
    if KIND not in settings:
        return []
    payload = server_event(event)
    return [NewDelivery(KIND, {"event": payload})] if payload else []


@hookimpl
def register_commands(cli):
    from .commands import fb_capi

    cli.add_command(fb_capi)


@hookimpl
def send_deliveries(kind, deliveries, config):
    if kind != KIND:
        return None
    return graph.send(deliveries, config)


@hookimpl
def config_keys():
    return [
        ConfigKey(
            "graph_base_url",
            str,
            graph.DEFAULT_GRAPH_BASE_URL,
            "The Graph API's address; change it only to point at a test double.",
        ),
        ConfigKey(
            "graph_version",
            str,
            graph.DEFAULT_GRAPH_VERSION,
            "The Graph API version used for /{pixel_id}/events (Meta keeps each for two years or more).",
        ),
    ]
