"""Payout methods offered by plugins (USDT, Wise, PayPal).

The weekly run that books payouts and asks a method to send them builds on
``available_methods``; the idempotency key of a payout is derived from its id
so that a retried send never pays twice.
"""
from ..plugins.manager import declared_by_plugins


def available_methods(pm) -> dict:
    """Payout methods by name, from every enabled plugin; a plugin that fails
    to answer is logged and left out."""
    return {method.name: method for _, method in declared_by_plugins(pm, "payout_methods")}


def idempotency_key(payout_id: int) -> str:
    return f"affnet-payout-{payout_id}"
