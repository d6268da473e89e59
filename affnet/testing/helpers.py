"""Helpers for tests of affnet and its plugins: follow a tracking link, call
the ingest API, check that a secret is not stored in plain text."""

from .fixtures import Network


def sale_body(click_id=None, payment="pi_123", amount=29.0, **extra) -> dict:
    """The SPEC's conversion body, with the given click and payment (the
    amount goes out as a JSON number, as product owners send it)."""
    body = {
        "click_id": click_id,
        "user_ref": "cus_123",
        "event": "sale",
        "external_payment_id": payment,
        "gross_amount": amount,
        "currency": "USD",
        "is_first_payment": True,
    }
    body.update(extra)
    return {key: value for key, value in body.items() if value is not None}


def ingest(client, network: Network, call: str, body, key: str | None = None):
    """POST ``body`` to ``/api/ingest/<call>`` with the network's offer key."""
    return client.post(
        f"/api/ingest/{call}", json=body, headers={"X-Offer-Key": network.offer_key if key is None else key}
    )


def click(client, ref: str, **params):
    """Follow a tracking link; returns the response (a 302 for a live ref)."""
    params.setdefault("ua", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148")
    user_agent = params.pop("ua")
    query = "&".join(f"{name}={value}" for name, value in {"ref": ref, **params}.items())
    response = client.get(f"/r?{query}", headers={"User-Agent": user_agent})
    load_clicks(client.application)
    return response


def load_clicks(app) -> int:
    """Load the spooled clicks into the database now (the flusher does it
    every ``tracking.spool_flush_ms`` in a running server)."""
    return app.extensions["affnet"].spool.flush()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def click_id_of(response) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(response.headers["Location"]).query)["click_id"][0]


def assert_not_stored(secret: str) -> None:
    """Fail when ``secret`` appears as it is in any value of any affnet
    table (a secret setting must be stored encrypted, a token hashed)."""
    from ..core.storage.models import ALL_MODELS

    found = []
    for model in ALL_MODELS:
        for row in model.select().tuples():
            found += [
                f"{model._meta.table_name}.{field.name}"
                for field, value in zip(model._meta.sorted_fields, row)
                if value is not None and secret in str(value)
            ]
    assert not found, f"the secret is stored in plain text in {', '.join(sorted(set(found)))}"
