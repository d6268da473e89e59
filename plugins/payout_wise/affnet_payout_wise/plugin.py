"""The hooks of the ``payout_wise`` plugin: the ``wise`` payout method and
the keys of ``[plugin.payout_wise]``."""

from pathlib import Path
from affnet import hookimpl
from affnet.plugins import N_, ConfigKey, PayoutMethod, SettingField

from . import payout, recipient
from .client import LIVE, SANDBOX

API_TOKEN = SettingField(
    "api_token",
    N_("Wise API token"),
    secret=True,
    required=True,
    help=N_("Wise: Settings, Developer tools, API tokens. A token with full access creates and funds transfers."),
)

WISE = PayoutMethod(
    name="wise",
    label=N_("Wise transfer"),
    fields=recipient.FIELDS,
    currencies=recipient.CURRENCIES,
    send=payout.send,
    validate=recipient.validate,
    poll=payout.poll,
    destination=recipient.destination,
    credentials=(API_TOKEN,),
)


@hookimpl
def payout_methods():
    return [WISE]


@hookimpl
def config_keys():
    return [
        ConfigKey("base_url", str, SANDBOX, f"Wise's API: the sandbox, or {LIVE} to pay for real."),
        ConfigKey(
            "profile_id",
            int,
            0,
            "The Wise profile that pays; 0: the first business profile of the token (else its personal one).",
        ),
    ]


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]
