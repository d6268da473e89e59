"""The ``stripe_ingest`` plugin: Stripe's webhook as an ingest source.

Enable it with ``plugins.enabled = ["stripe_ingest"]``; each offer then has
``POST /hooks/stripe/<offer_slug>``, verified with the signing secret saved by
``affnet stripe set-secret <offer_slug>``.
"""

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
