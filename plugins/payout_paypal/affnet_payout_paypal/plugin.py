"""The hooks of the ``payout_paypal`` plugin: the ``paypal`` payout method
and its ``[plugin.payout_paypal]`` keys."""

from pathlib import Path
from affnet import hookimpl
from affnet.plugins import N_, ConfigKey, PayoutMethod, SettingField

from . import payouts, recipient

PAYPAL = PayoutMethod(
    name="paypal",
    label=N_("PayPal"),
    fields=(
        SettingField(
            "email",
            N_("PayPal account email"),
            required=True,
            help=N_("The email address of your PayPal account: PayPal sends your payouts there."),
        ),
    ),
    currencies=recipient.CURRENCIES,
    send=payouts.send,
    validate=recipient.validate,
    poll=payouts.poll,
    destination=recipient.destination,
    credentials=(
        SettingField("client_id", N_("Client ID"), required=True, help=N_("Of your PayPal REST app.")),
        SettingField(
            "client_secret", N_("Secret"), secret=True, required=True, help=N_("Of the same PayPal REST app.")
        ),
    ),
)


@hookimpl
def payout_methods() -> list[PayoutMethod]:
    return [PAYPAL]


@hookimpl
def config_keys() -> list[ConfigKey]:
    return [
        ConfigKey(
            "base_url",
            str,
            payouts.SANDBOX,
            f"PayPal's REST API: the sandbox, {payouts.SANDBOX}, or live money, {payouts.LIVE}.",
        ),
        ConfigKey("email_subject", str, payouts.DEFAULT_SUBJECT, "The subject of PayPal's email to the affiliate."),
    ]


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]
