"""Schemathesis hooks for tests/web/test_schemathesis.py (loaded through
``SCHEMATHESIS_HOOKS`` in the schemathesis process).

A generated refCode never leads anywhere, so every other call of ``/r`` is
made with the test affiliate's real one (and records a click). Stripe's webhook refuses an unsigned body, so fuzzing alone would only ever
see its 400 and 404. Every other call of it is made to the test offer and
signed with the offer's signing secret, the way Stripe signs, so the fuzzed
events go through the plugin's parsing and the core's recording too. Each
answer of the webhook is written to a file, for the test to see how deep the
calls went.
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis

STRIPE_PATH = "/hooks/stripe/{offer_slug}"
_calls = {"/r": 0, STRIPE_PATH: 0}


def _every_other(path: str) -> bool:
    _calls[path] += 1
    return _calls[path] % 2 == 0


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path == "/r" and _every_other("/r"):
        case.query = {**(case.query or {}), "ref": os.environ["AFFNET_FUZZ_REF"]}
    if case.operation.path == STRIPE_PATH and isinstance(case.body, dict) and _every_other(STRIPE_PATH):
        _sign(case)


def _sign(case) -> None:
    """Aim the call at the test offer and sign its body with the offer's secret, as Stripe does."""
    case.path_parameters["offer_slug"] = os.environ["AFFNET_FUZZ_STRIPE_SLUG"]
    payload = json.dumps(case.body, allow_nan=False)  # as requests serializes json=
    stamp = int(time.time())
    secret = os.environ["AFFNET_FUZZ_STRIPE_SECRET"].encode()
    signature = hmac.new(secret, f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    case.headers = {**(case.headers or {}), "Stripe-Signature": f"t={stamp},v1={signature}"}


@schemathesis.hook
def after_call(context, case, response):
    if case.operation.path in _calls:
        with open(os.environ["AFFNET_FUZZ_ANSWERS"], "a") as log:
            log.write(f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n")
