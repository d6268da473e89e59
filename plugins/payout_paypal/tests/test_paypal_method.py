"""The ``paypal`` method as the core sees it: its fields, credentials,
currencies and config keys, and the affiliate's email checked."""

import pytest

from affnet_payout_paypal import plugin


def test_the_plugin_offers_the_paypal_method():
    [method] = plugin.payout_methods()

    assert method.name == "paypal"
    assert [(f.name, f.required, f.secret) for f in method.fields] == [("email", True, False)]
    assert [(f.name, f.required, f.secret) for f in method.credentials] == [
        ("client_id", True, False),
        ("client_secret", True, True),
    ]
    assert {"USD", "EUR", "GBP", "JPY"} <= set(method.currencies)
    assert method.send and method.poll and method.validate and method.destination


def test_the_base_url_defaults_to_paypals_sandbox():
    keys = {key.name: key for key in plugin.config_keys()}

    assert keys["base_url"].default == "https://api-m.sandbox.paypal.com"
    assert "https://api-m.paypal.com" in keys["base_url"].help
    assert all(key.check(key.default) is None for key in keys.values())


@pytest.mark.parametrize(
    "email",
    ["", "   ", "aff", "aff@", "@example.com", "aff@example", "aff example@example.com", "a..b@example.com",
     "aff@exa_mple.com", "aff@@example.com", "x" * 120 + "@example.com"],
)  # fmt: skip
def test_validate_refuses_a_bad_email(email):
    assert set(plugin.PAYPAL.validate({"email": email})) == {"email"}


def test_validate_refuses_a_missing_email():
    assert set(plugin.PAYPAL.validate({})) == {"email"}


@pytest.mark.parametrize("email", ["aff@example.com", "first.last+pay@mail.example.co.uk", " aff@example.com "])
def test_validate_takes_an_email_and_destination_is_it(email):
    assert plugin.PAYPAL.validate({"email": email}) == {}
    assert plugin.PAYPAL.destination({"email": email}) == email.strip()
