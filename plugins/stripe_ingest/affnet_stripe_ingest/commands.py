"""``affnet stripe set-secret OFFER_SLUG`` and ``affnet stripe show OFFER_SLUG``.

The signing secret (``whsec_…``, shown by Stripe when you add the endpoint)
is read from a hidden prompt, from ``--secret-file`` (``-`` for stdin) or from
piped stdin, stored encrypted, and never printed again: only its hint.
"""

import sys

import click

from affnet.plugins import JSON_OPTION, emit, with_db
from affnet.plugins.sources import find_offer, offer_secret_hint, set_offer_secret

from .integration import EVENTS_TO_SELECT, secret_problem, webhook_url
from .webhook import SECRET_NAME


def _offer(slug: str):
    offer = find_offer(slug)
    if offer is None:
        raise click.ClickException(f"no offer {slug!r}")
    return offer


def _webhook_url(services, offer) -> str:
    return webhook_url(services.settings["base_url"], offer.slug)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _read_secret(secret_file) -> str:
    if secret_file is not None:
        text = secret_file.read()
    elif not _interactive():
        text = sys.stdin.read()
    else:
        text = click.prompt("Stripe signing secret (whsec_...)", hide_input=True)
    secret = (text or "").strip()
    if secret_problem(secret):
        raise click.ClickException(
            "that is not a Stripe signing secret: it starts with whsec_ (Stripe shows it on the webhook "
            "endpoint's page); nothing was saved"
        )
    return secret


@click.group()
def stripe():
    """Stripe webhooks pointed at the network (plugin stripe_ingest).

    Also on the offer's page /owner/offers/SLUG/integrations/stripe."""


@stripe.command("set-secret")
@click.argument("offer_slug")
@click.option(
    "--secret-file",
    type=click.File("r"),
    default=None,
    help="Read the secret from this file ('-' for stdin) instead of a hidden prompt.",
)
@JSON_OPTION
@with_db
def set_secret(services, offer_slug, secret_file, as_json):
    """Save the offer's Stripe signing secret (encrypted); prints only its hint."""
    offer = _offer(offer_slug)
    secret = _read_secret(secret_file)
    set_offer_secret(offer, SECRET_NAME, secret)
    result = {
        "offer": offer.slug,
        "secret_hint": offer_secret_hint(offer, SECRET_NAME),
        "webhook_url": _webhook_url(services, offer),
        "events": list(EVENTS_TO_SELECT),
    }
    emit(
        result,
        as_json,
        None
        if as_json
        else f"Saved the Stripe signing secret of {offer.slug} ({result['secret_hint']}).\n"
        f"Stripe endpoint URL: {result['webhook_url']}\n"
        f"Events to select: {', '.join(EVENTS_TO_SELECT)}",
    )


@stripe.command("show")
@click.argument("offer_slug")
@JSON_OPTION
@with_db
def show(services, offer_slug, as_json):
    """Show the offer's webhook URL, the events to select and the secret's hint."""
    offer = _offer(offer_slug)
    hint = offer_secret_hint(offer, SECRET_NAME)
    emit(
        {
            "offer": offer.slug,
            "webhook_url": _webhook_url(services, offer),
            "secret_set": hint is not None,
            "secret_hint": hint,
            "events": list(EVENTS_TO_SELECT),
        },
        as_json,
    )
