"""Real-shaped Stripe events for the tests, signed the way Stripe signs them.

Stripe's ``Stripe-Signature`` header is ``t={unix time},v1={hex HMAC-SHA256
of "{t}.{raw body}" keyed with the endpoint's signing secret}``. The fixtures
hold ``{{click_id}}`` where a test puts the id of a real click.
"""

import hashlib
import hmac
import json
import time
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
TEST_SECRET = "whsec_test_5usurraAffnetSigningSecret0001"


def event_text(name: str, click_id: str | None = None) -> str:
    """The fixture's raw JSON with ``{{click_id}}`` replaced (or the key
    dropped when ``click_id`` is None)."""
    text = (FIXTURES / f"{name}.json").read_text()
    if click_id is None:
        data = json.loads(text)
        _drop_click_ids(data)
        return json.dumps(data, indent=2)
    return text.replace("{{click_id}}", click_id)


def event_data(name: str, click_id: str | None = None) -> dict:
    return json.loads(event_text(name, click_id))


def _drop_click_ids(value) -> None:
    if isinstance(value, dict):
        if value.get("click_id") == "{{click_id}}":
            del value["click_id"]
        for inner in value.values():
            _drop_click_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            _drop_click_ids(inner)


def sign(payload: str, secret: str = TEST_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_event(
    client,
    offer_slug: str,
    payload,
    secret: str = TEST_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
):
    """POST a Stripe event (raw text, or a dict serialised here) to the offer's webhook."""
    if not isinstance(payload, str):
        payload = json.dumps(payload, indent=2)
    header = sign(payload, secret, timestamp) if signature is None else signature
    return client.post(
        f"/hooks/stripe/{offer_slug}",
        data=payload.encode(),
        headers={
            "Stripe-Signature": header,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
