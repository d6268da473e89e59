"""The offer's Stripe page as the plugin declares it (``offer_integrations``): the webhook URL and
the events to select, the signing secret's field and check, and the two short integrations filled in
with the network's address and the offer's slug (the page itself is tested in tests/pages)."""

from pathlib import Path

import pytest

from affnet.plugins import OfferInfo
from affnet_stripe_ingest import plugin
from affnet_stripe_ingest.integration import SECRET_SHAPE, secret_problem
from affnet_stripe_ingest.webhook import SECRET_NAME

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
OFFER = OfferInfo(7, "susurra", "Susurra", "https://susurra.example/", "USD")


def stripe_page():
    (integration,) = plugin.offer_integrations(offer=OFFER, base_url="https://network.example/")
    return integration


def test_the_stripe_page_gives_the_offers_webhook_url_and_the_events_to_select():
    page = stripe_page()
    assert (page.name, page.calls_source) == ("stripe", "stripe")
    assert dict(page.facts) == {
        "Webhook URL": "https://network.example/hooks/stripe/susurra",
        "Events to select": "invoice.payment_succeeded, charge.refunded, charge.dispute.created, "
        "customer.subscription.created",
    }


def test_the_signing_secret_is_the_one_the_webhook_verifies_with():
    page = stripe_page()
    assert (page.secret.name, page.secret.secret) == (SECRET_NAME, True)
    assert page.check_secret is secret_problem


@pytest.mark.parametrize(
    "value, why",
    [
        ("whsec_5usurraAffnetSigningSecret", None),
        ("sk_live_51NotASigningSecret", SECRET_SHAPE),
        ("whsec_short", SECRET_SHAPE),
        ("whsec_with a space inside it", SECRET_SHAPE),
    ],
)
def test_a_signing_secret_is_checked_for_its_shape(value, why):
    assert secret_problem(value) == why


def test_the_snippets_are_the_example_files_filled_in_with_the_network_and_the_offer():
    python, node = stripe_page().snippets
    assert (python.language, node.language) == ("python", "javascript")
    for snippet, name in ((python, "stripe_webhook.py"), (node, "stripe_webhook.js")):
        example = (EXAMPLES / name).read_text()
        assert "https://NETWORK" in example and "<offer>" in example
        assert snippet.code == example.replace("https://NETWORK", "https://network.example").replace(
            "<offer>", "susurra"
        )
        assert "AFFNET_OFFER_KEY" in snippet.code
