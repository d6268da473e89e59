"""Payout methods offered by plugins (USDT, Wise, PayPal).

The weekly run that books payouts and asks a method to send them builds on
``available_methods``; the idempotency key of a payout is derived from its id
so that a retried send never pays twice.
"""
import logging

log = logging.getLogger("affnet.payouts")


def available_methods(pm) -> dict:
    """Payout methods by name, from every enabled plugin; a plugin that fails
    to answer is logged and left out."""
    methods = {}
    for impl in pm.hook.payout_methods.get_hookimpls():
        try:
            declared = impl.function() or []
        except Exception:
            log.exception("plugin %s failed in payout_methods", impl.plugin_name)
            continue
        for method in declared:
            methods[method.name] = method
    return methods


def idempotency_key(payout_id: int) -> str:
    return f"affnet-payout-{payout_id}"
