"""An offer's integrations with payment providers, as plugins declare them
(the ``offer_integrations`` hook): what to set up on the provider's side,
the signing secret (write-only), the snippets, the last webhook calls."""

from flask import Blueprint

from .access import role_required, services

bp = Blueprint("integrations", __name__)
owner_only = role_required("advertiser", "admin")


def available(offer) -> list[tuple[str, str]]:
    """(name, title) of each integration a plugin offers for this offer."""
    return []
