"""The plugin's hooks: the ``wise`` payout method with the operator's token
as a secret credential, and the ``[plugin.payout_wise]`` keys with their
defaults, as an app that enables the plugin sees them."""

import pytest

from affnet_payout_wise import plugin
from affnet_payout_wise.client import SANDBOX


@pytest.fixture
def affnet_plugins():
    return [("payout_wise", plugin)]


def test_the_wise_method_pays_eur_gbp_and_usd_with_the_operators_secret_token():
    [method] = plugin.payout_methods()

    assert method.name == "wise"
    assert {"EUR", "GBP", "USD"} <= set(method.currencies)
    assert [(field.name, field.secret, field.required) for field in method.credentials] == [("api_token", True, True)]
    assert [field.name for field in method.fields if field.required] == ["account_holder_name"]
    assert method.send and method.poll and method.validate and method.destination


def test_the_config_keys_default_to_the_sandbox_and_the_first_business_profile():
    keys = {key.name: key for key in plugin.config_keys()}

    assert (keys["base_url"].type, keys["base_url"].default) == (str, SANDBOX)
    assert SANDBOX == "https://api.sandbox.transferwise.tech"
    assert (keys["profile_id"].type, keys["profile_id"].default) == (int, 0)


def test_an_app_that_enables_the_plugin_offers_the_method_and_its_config(affnet_services):
    methods = [method for found in affnet_services.pm.hook.payout_methods() for method in found]
    config = affnet_services.plugin_config("payout_wise")

    assert [method.name for method in methods] == ["wise"]
    assert (config["base_url"], config["profile_id"]) == (SANDBOX, 0)
