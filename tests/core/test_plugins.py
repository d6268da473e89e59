"""The plugin manager and one test per hook of affnet/plugins/hookspecs.py."""

import pytest
from click.testing import CliRunner

from affnet.core.earnings import payouts
from affnet.plugins import hookspecs
from affnet.plugins.manager import PluginError, call_isolated, get_plugin_manager, installed_plugins
from affnet.testing import click, click_id_of, ingest, sale_body
from tests import sample_plugin


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


def test_an_enabled_plugin_that_is_not_installed_stops_start_up_with_its_name():
    with pytest.raises(PluginError, match="'nope' is enabled"):
        get_plugin_manager(["nope"])


def test_a_plugin_not_enabled_is_not_loaded():
    pm = get_plugin_manager([])
    assert [name for name, _ in pm.list_name_plugin()] == []


def test_installed_bundled_plugins_are_found_by_their_entry_points():
    assert {"keitaro", "fb_capi", "stripe_ingest"} <= set(installed_plugins())
    for name in installed_plugins():
        pm = get_plugin_manager([name])
        assert pm.get_plugin(name) is not None


def test_a_misspelled_hook_is_caught():
    class Misspelled:
        from affnet import hookimpl

        @hookimpl
        def deliveries_for_evnt(self, event):
            return []

    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError):
        get_plugin_manager([], extra=[Misspelled()])


def test_call_isolated_skips_an_implementation_that_raises():
    class Broken:
        from affnet import hookimpl

        @hookimpl
        def delivery_kinds(self):
            raise RuntimeError("boom")

    pm = get_plugin_manager([], extra=[Broken(), sample_plugin])
    assert call_isolated(pm, "delivery_kinds") == [[sample_plugin.KIND]]


def test_hook_register_routes_mounts_the_plugins_blueprint_under_hooks(affnet_client):
    assert affnet_client.get("/hooks/sample/ping").get_json() == {"pong": True}
    assert affnet_client.get("/r/ping").status_code == 404, "the blueprint's own url_prefix (/r) is not used"


def test_a_plugin_cannot_mount_routes_outside_hooks(caplog):
    from flask import Blueprint, Flask
    from affnet import hookimpl
    from affnet.plugins.manager import mount_routes

    class Taker:
        @hookimpl
        def register_routes(self):
            bp = Blueprint("api/ingest", __name__)
            bp.add_url_rule("/conversion", "steal", lambda: "mine", methods=["POST"])
            return [bp, "/r"]

    app = Flask("test")
    assert mount_routes(get_plugin_manager([], extra=[Taker()]), app) == []
    assert [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"] == []
    assert "register_routes must return Flask Blueprints" in caplog.text


@pytest.mark.parametrize("hook", ["deliveries_for_event", "delivery_kinds", "register_routes", "offer_integrations"])
def test_a_wrapper_on_a_hook_called_in_isolation_is_refused(hook):
    from affnet import hookimpl
    from affnet.plugins.manager import PluginError

    def wrapper(**kwargs):
        yield

    wrapper.__name__ = hook
    plugin = type("Wrapping", (), {})()
    setattr(plugin, hook, hookimpl(wrapper=True)(wrapper))
    with pytest.raises(PluginError, match=f"implements {hook} as a wrapper"):
        get_plugin_manager([], extra=[("wrapping", plugin)])


def test_hook_register_commands_adds_a_cli_command():
    from affnet.cli import cli

    pm = get_plugin_manager([], extra=[sample_plugin])
    pm.hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["sample-hello"])
    assert result.output.strip() == "hello from sample"


def test_hook_delivery_kinds_registers_the_kind_with_its_owner(affnet_services):
    assert affnet_services.registry.kinds["sample"] is sample_plugin.KIND
    assert affnet_services.registry.owners["sample"] == affnet_services.pm.get_name(sample_plugin)


def test_hook_deliveries_for_event_gets_the_event_and_the_settings_in_force(affnet_client, affnet_network):
    from affnet.core.deliveries import setting_versions
    from affnet.core.storage.models import Delivery

    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, {"url": "https://r.example/", "token": "x"})
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    txid = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    assert Delivery.get().payload["txid"] == txid


def test_hook_send_deliveries_is_asked_for_its_kind_only(affnet_services):
    assert affnet_services.pm.hook.send_deliveries(kind="other", deliveries=[], config={}, report=None) is None


def test_hook_on_event_recorded_hears_each_event_after_commit(affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    txid = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))  # a duplicate: not heard again
    assert [event.txid for event in sample_plugin.recorded_events] == [txid]
    assert sample_plugin.recorded_events[0].click.click_id == click_id


def test_hook_payout_methods_lists_the_plugins_methods(affnet_services):
    methods = payouts.Methods.from_plugins(affnet_services.pm).by_name
    assert methods["sample_pay"].currencies == ("USD",)


def test_hook_register_jobs_adds_a_worker_job(affnet_worker):
    affnet_worker.run_once()
    assert sample_plugin.jobs_run == ["hourly"]


def test_hook_translation_directories_adds_the_plugins_catalogs_to_the_pages(affnet_app):
    folders = affnet_app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    assert folders[0].endswith("affnet/translations") and sample_plugin.CATALOGS in folders[1:]


class _DescribedPing:
    from affnet import hookimpl

    PING = {"get": {"summary": "pong", "responses": {"200": {"description": "pong"}}}}

    @hookimpl
    def openapi_paths(self):
        return {"/hooks/sample/ping": self.PING}


@pytest.mark.parametrize("affnet_plugins", [[sample_plugin, _DescribedPing()]])
def test_hook_openapi_paths_adds_the_plugins_paths_to_the_served_document(affnet_client):
    paths = affnet_client.get("/api/openapi.json").get_json()["paths"]
    assert paths["/hooks/sample/ping"] == _DescribedPing.PING and "/api/ingest/conversion" in paths


def test_every_hook_has_a_test_in_this_module():
    import inspect

    source = inspect.getsource(inspect.getmodule(test_every_hook_has_a_test_in_this_module))
    for name in dir(hookspecs):
        if hasattr(getattr(hookspecs, name), "affnet_spec"):
            assert f"def test_hook_{name}_" in source, f"hook {name} has no test_hook_{name}_… test"


@pytest.mark.parametrize("affnet_config", [{"plugin.sample": {"endpoint": "https://sample.example/"}}])
@pytest.mark.parametrize("affnet_plugins", [[("sample", sample_plugin)]])
def test_a_plugin_registered_by_name_gets_its_config_section(affnet_services):
    config = affnet_services.plugin_config("sample")
    assert (config["endpoint"], config["retries"]) == ("https://sample.example/", 3), "declared defaults filled in"
    assert config["affnet.timeout_seconds"] == affnet_services.settings["deliveries.timeout_seconds"]
    assert "timeout_seconds" not in config, "the core's values are named affnet.*, never a plugin's own name"
    assert affnet_services.registry.owners["sample"] == "sample"


@pytest.mark.parametrize(
    "section, line",
    [
        (
            {"endpiont": "https://x.example/"},
            "plugin.sample.endpiont: sample has no such key (its keys: endpoint, retries)",
        ),
        ({"retries": "3"}, "plugin.sample.retries: must be a whole number"),
        ({"retries": True}, "plugin.sample.retries: must be a whole number"),
    ],
)
def test_hook_config_keys_holds_a_plugins_section_to_the_keys_it_declares(section, line):
    from affnet.config import load_settings
    from affnet.plugins.manager import check_plugin_config

    settings = load_settings(None, overrides={"plugin.sample": section}, environ={})
    with pytest.raises(PluginError) as refused:
        check_plugin_config(get_plugin_manager([], extra=[("sample", sample_plugin)]), settings)
    assert str(refused.value) == line


def test_a_typo_in_a_bundled_plugins_section_stops_a_command_with_one_line(tmp_path, monkeypatch):
    config = tmp_path / "affnet.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path}/a.db"\ninstance_path = "{tmp_path}/instance"\n'
        '[plugins]\nenabled = ["fb_capi"]\n[plugin.fb_capi]\ngrap_version = "v26.0"\n'
    )
    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    assert CliRunner().invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    for command in (["deliveries", "list"], ["worker", "--once"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command])
        assert result.exit_code == 1, result.output
        assert result.output.strip() == (
            "Error: plugin.fb_capi.grap_version: fb_capi has no such key (its keys: graph_base_url, graph_version)"
        )


def test_affnet_config_example_shows_the_sections_of_the_bundled_plugins():
    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    example = CliRunner().invoke(cli, ["config", "example"]).output
    assert '[plugin.fb_capi]\n# The Graph API\'s address' in example
    assert '# graph_version = "v26.0"' in example
    assert "[plugin.keitaro]\n# (this plugin has no settings here)" in example


class _Paddle:
    from affnet import hookimpl

    @hookimpl
    def offer_integrations(self, offer, base_url):
        from affnet.plugins import OfferIntegration

        return [OfferIntegration("paddle", "Paddle", facts=[("Webhook URL", f"{base_url}/hooks/paddle/{offer.slug}")])]


class _BrokenIntegrations:
    from affnet import hookimpl

    @hookimpl
    def offer_integrations(self, offer, base_url):
        raise RuntimeError("boom")


@pytest.mark.parametrize("affnet_plugins", [[_Paddle(), _BrokenIntegrations()]])
def test_hook_offer_integrations_gives_an_offer_its_integration_pages_and_a_failing_plugin_none(
    affnet_app, affnet_network
):
    from affnet.web.pages import integrations

    with affnet_app.test_request_context():
        assert integrations.available(affnet_network.offer) == [("paddle", "Paddle")]
        (paddle,) = integrations.integrations_of(affnet_network.offer)
    assert paddle.facts == [("Webhook URL", "http://127.0.0.1:8000/hooks/paddle/susurra")]


def test_an_integration_is_named_by_one_path_segment():
    from affnet.plugins import OfferIntegration

    with pytest.raises(ValueError, match="lower-case letters"):
        OfferIntegration("../admin", "Sneaky")
