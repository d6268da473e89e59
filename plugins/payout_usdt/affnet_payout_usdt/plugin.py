"""The hooks of the ``payout_usdt`` plugin: the ``usdt`` payout method.

How a USDT payout goes, with no key in affnet:

1. The affiliate picks a ``network`` (``TRC20`` or ``ERC20``) and gives an
   ``address`` on it; ``validate`` checks the address's checksum.
2. ``send`` only says the payout is in the next transfer file (``sent``);
   nothing leaves affnet and calling it again changes nothing.
3. ``export`` writes that file (``affnet_payout_usdt.transfers`` lists its
   columns); the operator loads it into their wallet's or exchange's batch
   send and pays.
4. The operator records each transfer's hash (one by one, or with
   ``affnet payouts import-hashes``); ``check_reference`` checks its shape
   for the payout's network, and the payout is then complete. There is no
   ``poll``: no one but the operator knows when they paid.

Only USD balances are paid, at par: 1 USD of commission is 1 USDT.
"""

from pathlib import Path
from typing import Any

from affnet import hookimpl
from affnet.plugins import N_, PayoutMethod, PayoutRequest, PayoutResult, SettingField

from .addresses import address_problem, network_of, transaction_hash_problem
from .transfers import transfer_file, transfer_line

IN_THE_FILE = N_("in the USDT transfer file: pay it from your wallet, then record the transaction hash")


def _address(details: dict[str, Any]) -> str:
    value = details.get("address")
    return value if isinstance(value, str) else ""


def validate(details: dict[str, Any]) -> dict[str, str]:
    """``{field: message}`` for what is wrong with an affiliate's USDT details
    (empty when all is right). The address is checked only once the network
    is known, since the network says what an address looks like."""
    network = network_of(details)
    if network is None:
        return {"network": N_("Choose TRC20 (TRON) or ERC20 (Ethereum).")}
    problem = address_problem(network, _address(details))
    return {"address": problem} if problem else {}


def destination(details: dict[str, Any]) -> str:
    """``TRC20 TR7NHq…`` with the whole address, for the operator's books."""
    network = network_of(details) or str(details.get("network", "")).strip()
    return f"{network} {_address(details)}".strip()


def send(request: PayoutRequest, config: dict[str, Any]) -> PayoutResult:
    """Put the payout in the next transfer file: ``sent`` with a note, or
    ``failed`` when the file could not hold it (details that no longer check,
    a currency other than USD, an amount USDT cannot carry). Sends nothing,
    so any number of calls is safe."""
    try:
        transfer_line(request)
    except ValueError as fault:
        return PayoutResult("failed", error=str(fault))
    return PayoutResult("sent", note=IN_THE_FILE)


def export(requests: list[PayoutRequest], config: dict[str, Any]) -> tuple[str, bytes]:
    """The mass-transfer file for ``requests`` (see ``affnet_payout_usdt.transfers``)."""
    return transfer_file(requests)


def check_reference(details: dict[str, Any], reference: str) -> str | None:
    """What is wrong with ``reference`` as the transaction hash of a payout
    to ``details``, or None: 64 hex digits on TRC20, 0x and 64 on ERC20."""
    network = network_of(details)
    if network is None:
        return N_("This payout's network is neither TRC20 nor ERC20, so no transaction hash can be checked.")
    return transaction_hash_problem(network, reference if isinstance(reference, str) else "")


USDT = PayoutMethod(
    name="usdt",
    label=N_("USDT (TRC20 or ERC20)"),
    fields=(
        SettingField(
            "network",
            N_("Network"),
            required=True,
            help=N_("TRC20 (TRON) or ERC20 (Ethereum): the network your wallet receives USDT on."),
        ),
        SettingField(
            "address",
            N_("USDT address"),
            required=True,
            help=N_(
                "Your address on that network: T and 33 more characters on TRC20, 0x and 40 hex digits on ERC20. "
                "Copy it from your wallet; USDT sent to a wrong address cannot be recovered. "
                "Your USD balance is paid at par: 1 USD = 1 USDT."
            ),
        ),
    ),
    currencies=("USD",),
    send=send,
    validate=validate,
    poll=None,
    export=export,
    check_reference=check_reference,
    destination=destination,
)


@hookimpl
def payout_methods() -> list[PayoutMethod]:
    return [USDT]


@hookimpl
def config_keys() -> list[Any]:
    return []  # no [plugin.payout_usdt] section: a key set there is a typo


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]
