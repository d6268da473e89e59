"""The ``stripe_ingest`` plugin: Stripe's webhook as an ingest source.

Enable it with ``plugins.enabled = ["stripe_ingest"]``; each offer then has
``POST /hooks/stripe/<offer_slug>``, verified with the signing secret saved on
the offer's Stripe page or by ``affnet stripe set-secret <offer_slug>``.
"""

from pathlib import Path

from affnet import hookimpl


@hookimpl
def register_routes():
    from .webhook import bp

    return bp


@hookimpl
def register_commands(cli):
    from .commands import stripe

    cli.add_command(stripe)


@hookimpl
def config_keys():
    return []  # no [plugin.*] section: a key set there is a typo


@hookimpl
def offer_integrations(offer, base_url):
    from .integration import stripe_integration

    return [stripe_integration(offer, base_url)]


@hookimpl
def translation_directories():
    return [str(Path(__file__).parent / "translations")]


@hookimpl
def openapi_paths():
    import json

    return json.loads((Path(__file__).parent / "openapi.json").read_text())
