"""Payout methods offered by plugins (USDT, Wise, PayPal).

The weekly run that books payouts and asks a method to send them (with an
idempotency key derived from the payout's id, so a retried send never pays
twice) builds on ``available_methods``.
"""

from ...plugins.manager import declared_by_plugins


def available_methods(pm) -> dict:
    """Payout methods by name, from every enabled plugin; a plugin that fails
    to answer is logged and left out."""
    return {method.name: method for _, method in declared_by_plugins(pm, "payout_methods")}
