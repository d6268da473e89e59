"""The plugin API of affnet: every hook, and what an implementation must do.

Implement a hook with a function of the same name decorated with
``affnet.hookimpl``, in a module that your distribution names under the
entry point group ``affnet``. Hooks are called with keyword arguments only,
so an implementation may take fewer arguments than the spec lists.

Rules every plugin keeps:

* The core does the database work. A hook receives what it needs as
  arguments and returns data; a plugin talks only to the outside world.
* A hook that raises is logged and skipped: it never breaks a click, an
  ingest answer or another plugin's delivery. Still, do not raise on purpose.
* Nothing on the click path calls a plugin.
"""

import pluggy

hookspec = pluggy.HookspecMarker("affnet")


@hookspec
def register_routes():
    """Return a Flask ``Blueprint`` (or a list of them) with routes of your
    own: an ingest source (a payment provider's webhook) or pages. The core
    mounts each under ``/hooks/<blueprint name>/`` (the name is one path
    segment: lower-case letters, digits, ``_`` or ``-``), whatever
    ``url_prefix`` it was given, so no plugin can take ``/r``,
    ``/api/ingest/`` or a page of affnet's. Turn what arrives into
    ``affnet.plugins.parse_conversion`` / ``parse_reversal`` and ``record``,
    so it is deduplicated, priced and booked like the ingest API."""


@hookspec
def config_keys():
    """Return a list of ``ConfigKey``: the keys of your ``[plugin.<name>]``
    section, with their types, defaults and help. A key the operator sets
    that you do not declare, or a value of the wrong type, stops start-up
    with one line naming it (``plugin.<name>.<key>: ...``); ``affnet config
    example`` prints your section from them. Your ``config`` (in
    ``send_deliveries``) then holds every declared key, set or defaulted,
    and the core's values under ``affnet.``: ``affnet.allow_private_targets``,
    ``affnet.timeout_seconds``, ``affnet.parallelism``, ``affnet.base_url``."""


@hookspec
def register_commands(cli):
    """Add commands to the ``affnet`` command line; ``cli`` is its click group."""


@hookspec
def delivery_kinds():
    """Return a list of ``DeliveryKind``: the outgoing messages you send
    (postbacks, pixel events), with the settings an affiliate fills in for
    each. The core stores every saved version of those settings, encrypts
    their secret fields and applies the 24-hour rule."""


@hookspec
def deliveries_for_event(event, settings):
    """Return a list of ``NewDelivery`` for this event, or an empty list.

    ``event`` is an ``EventInfo``. ``settings`` maps each of your delivery
    kinds to the values in force for this event's participation at the time
    the event happened (secrets decrypted); a kind the affiliate has not set
    is absent. Called before the event is stored; what it returns is stored
    with the event, all or nothing (a repeated event stores nothing). Build
    payloads only: send nothing, touch no database. Put no secret into a
    payload: it is stored as it is."""


@hookspec(firstresult=True)
def send_deliveries(kind, deliveries, config, report):
    """Send due deliveries of ``kind`` if it is yours; return None otherwise.

    ``deliveries`` is a list of ``OutgoingDelivery``; ``config`` is your
    plugin's ``[plugin.<name>]`` section (see ``config_keys``) with the core's
    values ``affnet.allow_private_targets``, ``affnet.timeout_seconds``,
    ``affnet.parallelism`` and ``affnet.base_url``. Return one ``DeliveryResult`` per delivery
    (in any order). Batch as your receiver allows and bound your parallelism.
    Mask secrets in the ``url`` you report.

    ``report(result)`` (optional: name the argument to receive it) records a
    ``DeliveryResult`` as soon as you have it, from any thread, without
    waiting for the rest of the batch: if the worker is killed in the middle
    of a batch, a delivery already reported is not sent again. Call it as
    each request completes; a result reported is final (returning another
    one for the same delivery changes nothing), and the results you return
    at the end need not repeat the ones you reported."""


@hookspec
def on_event_recorded(event):
    """Hear of an event after its transaction committed (``EventInfo``).

    For reactions that need no delivery guarantee (a metric, a cache). Work
    that must not be lost belongs in ``deliveries_for_event``."""


@hookspec
def payout_methods():
    """Return a list of ``PayoutMethod``: ways to pay affiliates."""


@hookspec
def translation_directories():
    """Return a list of folders holding your compiled catalogs for the pages:
    ``<folder>/<language>/LC_MESSAGES/messages.mo`` (``es`` for Spanish).

    The pages show the texts you declare (a ``DeliveryKind``'s ``label`` and
    ``description``, its fields' ``label`` and ``help``, the messages and
    warnings your ``validate`` returns) through gettext, with your catalogs
    merged over affnet's. A text no catalog holds shows as you wrote it.
    Mark each text with ``affnet.plugins.N_`` so that ``pybabel extract``
    finds it; the bundled plugins show the whole round (``make
    translations``)."""


@hookspec
def register_jobs(scheduler, app):
    """Add periodic jobs to the worker's ``schedule.Scheduler``.

    Each job runs inside ``app.app_context()`` with a database connection;
    it must be quick or do its work in bounded batches."""


@hookspec
def offer_integrations(offer, base_url):
    """Return a list of ``OfferIntegration``: the ways a product owner can
    connect this offer to a provider of yours (a payment provider's webhook),
    each shown as a page of the offer with its steps, the values to copy,
    its write-only secret, code snippets and your webhook's last calls.

    ``offer`` is an ``OfferInfo``; ``base_url`` is the network's public
    address, without a trailing ``/``. Build texts and code only: touch no
    database and call nobody. Never put a secret into a snippet: the offer
    key is shown once, so tell the owner where to put it instead."""


@hookspec
def openapi_paths():
    """Return the OpenAPI 3.1 path items of the routes your ``register_routes``
    mounts: a dict of path (``/hooks/<blueprint name>/...``, parameters as
    ``{name}``) to path item. ``GET /api/openapi.json`` serves them with the
    core's document, which a plugin's path items may reference
    (``#/components/schemas/Error``, ``#/components/schemas/IngestAnswer``).
    A path outside ``/hooks/``, or one already in the document, is logged
    and left out. Keep the fragment as a JSON file in your package."""
