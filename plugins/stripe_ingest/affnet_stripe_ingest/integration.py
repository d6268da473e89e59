"""The offer's Stripe page (the ``offer_integrations`` hook): the webhook URL
and the events to select in Stripe's Dashboard, the signing secret, and the
two short integrations for the product owner's own webhook.

The snippets are the files ``docs/examples/stripe_webhook.py`` and
``stripe_webhook.js`` (linked into this package as ``snippets/``), filled in
with the network's address and the offer's slug: one copy of the code, the
one the tests run against the network. The offer key is never in them (it is
shown once, when the offer is made): they read ``AFFNET_OFFER_KEY``.
"""

from pathlib import Path

from affnet.plugins import N_, OfferIntegration, SettingField, Snippet

from .events import HANDLED_EVENTS
from .webhook import SECRET_NAME, SOURCE

# invoice.paid duplicates invoice.payment_succeeded: selecting one is enough.
EVENTS_TO_SELECT = tuple(name for name in HANDLED_EVENTS if name != "invoice.paid")
SNIPPETS = Path(__file__).parent / "snippets"
NETWORK_PLACEHOLDER, OFFER_PLACEHOLDER = "https://NETWORK", "<offer>"
SECRET_SHAPE = N_(
    "That is not a Stripe signing secret: it starts with whsec_ (Stripe shows it on the webhook endpoint's page)."
)


def webhook_url(base_url: str, slug: str) -> str:
    return base_url.rstrip("/") + f"/hooks/stripe/{slug}"


def secret_problem(value: str) -> str | None:
    """Why ``value`` is not a Stripe signing secret (``whsec_`` and at least ten more characters, no
    spaces), or None."""
    if not value.startswith("whsec_") or len(value) < 16 or any(ch.isspace() for ch in value):
        return SECRET_SHAPE
    return None


def snippet_code(file_name: str, base_url: str, slug: str) -> str:
    """The example ``file_name`` of ``snippets/`` filled in with the network's address and the offer's slug."""
    code = (SNIPPETS / f"{file_name}.txt").read_text(encoding="utf-8")
    return code.replace(NETWORK_PLACEHOLDER, base_url.rstrip("/")).replace(OFFER_PLACEHOLDER, slug)


def stripe_integration(offer, base_url: str) -> OfferIntegration:
    return OfferIntegration(
        name="stripe",
        title=N_("Stripe"),
        description=N_(
            "Two ways to report this offer's Stripe payments: point a webhook endpoint of your Stripe "
            "account at the network (no code), or add the short code below to the webhook you already "
            "have. Both send the same ids, so a payment reported both ways counts once."
        ),
        steps=(
            N_(
                "In Stripe's Dashboard, open Developers, then Webhooks, and add an endpoint with the webhook URL below."
            ),
            N_("Select the events listed below (invoice.paid as well changes nothing: a payment counts once)."),
            N_(
                "Stripe then shows the endpoint's signing secret (whsec_…): save it below. Until it is saved, the "
                "network refuses the endpoint's calls."
            ),
            N_(
                "Put click_id from the landing page (the landing helper below) into the subscription's metadata "
                "when you create the Checkout Session: subscription_data.metadata.click_id."
            ),
        ),
        facts=(
            (N_("Webhook URL"), webhook_url(base_url, offer.slug)),
            (N_("Events to select"), ", ".join(EVENTS_TO_SELECT)),
        ),
        secret=SettingField(
            SECRET_NAME,
            N_("Signing secret"),
            secret=True,
            required=True,
            help=N_(
                "Starts with whsec_. Stripe shows it on the endpoint's page; after you roll it there, save the new one here."
            ),
        ),
        check_secret=secret_problem,
        snippets=(
            Snippet(
                N_("Python, in your own webhook"), "python", snippet_code("stripe_webhook.py", base_url, offer.slug)
            ),
            Snippet(
                N_("Node.js, in your own webhook"),
                "javascript",
                snippet_code("stripe_webhook.js", base_url, offer.slug),
            ),
        ),
        calls_source=SOURCE,
    )
