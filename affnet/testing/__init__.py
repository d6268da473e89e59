"""Fixtures for testing affnet and its plugins (a pytest plugin, loaded
automatically once affnet is installed).

Every fixture is named ``affnet_*``. The app runs on a throwaway database:
each test that uses ``affnet_app`` runs once on SQLite and once on
PostgreSQL. PostgreSQL comes from ``AFFNET_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test session works in a
schema of its own, dropped at the end. Without a reachable server the
PostgreSQL runs are skipped with one line saying why, except under CI
(``CI=true``), where they fail. ``AFFNET_TEST_DATABASES=sqlite`` runs
them on SQLite only (a plugin's quick runs; keep both in CI).

A plugin's tests register the plugin explicitly instead of relying on what
happens to be installed::

    @pytest.fixture
    def affnet_plugins():
        return [my_plugin_module]

    def test_something(affnet_app, affnet_client, affnet_network): ...

The package holds the fixtures (``fixtures``), helpers for tracking links,
the ingest API and stored secrets (``helpers``) and ``FakeReceiver``
(``receiver``); docs/plugins.md lists each with its signature.
"""

from .fixtures import (
    DEFAULT_POSTGRES,
    Clock,
    Network,
    affnet_app,
    affnet_cli,
    affnet_client,
    affnet_clock,
    affnet_config,
    affnet_database_url,
    affnet_network,
    affnet_plugins,
    affnet_postgres_url,
    affnet_services,
    affnet_settings,
    affnet_worker,
    postgres_schema_url,
)
from .helpers import (
    HeldRow,
    assert_not_stored,
    click,
    click_id_of,
    free_port,
    ingest,
    kill_between_answer_and_record,
    load_clicks,
    run_affnet,
    sale_body,
    totp_code,
)
from .receiver import FakeReceiver

__all__ = [
    "DEFAULT_POSTGRES",
    "HeldRow",
    "kill_between_answer_and_record",
    "run_affnet",
    "Clock",
    "FakeReceiver",
    "Network",
    "affnet_app",
    "affnet_cli",
    "affnet_client",
    "affnet_clock",
    "affnet_config",
    "affnet_database_url",
    "affnet_network",
    "affnet_plugins",
    "affnet_postgres_url",
    "affnet_services",
    "affnet_settings",
    "affnet_worker",
    "assert_not_stored",
    "click",
    "click_id_of",
    "free_port",
    "ingest",
    "load_clicks",
    "postgres_schema_url",
    "sale_body",
    "totp_code",
]
