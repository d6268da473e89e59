"""`affnet stripe set-secret` and `affnet stripe show`: the secret goes in
once, encrypted, and only its hint ever comes out."""

import json

import pytest

from affnet.core.storage.models import Event, OfferSecret
from affnet.core.network.offer_secrets import get_offer_secret
from affnet_stripe_ingest.webhook import SECRET_NAME
from stripe_ingest_support import TEST_SECRET, event_text, post_event


@pytest.fixture
def affnet_config():
    return {"base_url": "https://network.example"}


@pytest.fixture
def run(affnet_cli):
    return affnet_cli


def test_set_secret_from_a_file_prints_only_the_hint_and_the_webhook_works(
    run, affnet_client, affnet_network, tmp_path
):
    secret_file = tmp_path / "whsec.txt"
    secret_file.write_text(TEST_SECRET + "\n")
    result = run("stripe", "set-secret", affnet_network.offer.slug, "--secret-file", str(secret_file))
    assert result.exit_code == 0, result.output
    assert TEST_SECRET not in result.output and TEST_SECRET[6:] not in result.output
    assert "…0001" in result.output
    assert f"https://network.example/hooks/stripe/{affnet_network.offer.slug}" in result.output
    assert get_offer_secret(affnet_network.offer, SECRET_NAME) == TEST_SECRET
    response = post_event(affnet_client, affnet_network.offer.slug, event_text("customer_created"))
    assert response.status_code == 200


def test_set_secret_reads_stdin_and_prints_json(run, affnet_network):
    result = run("stripe", "set-secret", affnet_network.offer.slug, "--json", input=TEST_SECRET + "\n")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["secret_hint"] == "…0001" and TEST_SECRET not in result.output
    assert "invoice.payment_succeeded" in shown["events"] and "charge.refunded" in shown["events"]
    row = OfferSecret.get(OfferSecret.name == SECRET_NAME)
    assert TEST_SECRET not in row.value


def test_set_secret_refuses_what_is_not_a_signing_secret_and_saves_nothing(run, affnet_network):
    result = run("stripe", "set-secret", affnet_network.offer.slug, input="sk_live_not_a_webhook_secret\n")
    assert result.exit_code != 0 and "whsec_" in result.output
    assert OfferSecret.select().count() == 0


def test_set_secret_of_an_unknown_offer_fails_clearly(run):
    result = run("stripe", "set-secret", "nope", input=TEST_SECRET + "\n")
    assert result.exit_code != 0 and "no offer 'nope'" in result.output
    assert OfferSecret.select().count() == 0


def test_show_tells_whether_a_secret_is_set_without_showing_it(run, affnet_network):
    before = json.loads(run("stripe", "show", affnet_network.offer.slug, "--json").output)
    assert (before["secret_set"], before["secret_hint"]) == (False, None)
    run("stripe", "set-secret", affnet_network.offer.slug, input=TEST_SECRET + "\n")
    after = run("stripe", "show", affnet_network.offer.slug)
    assert "secret_set: True" in after.output and "…0001" in after.output and TEST_SECRET not in after.output
    assert Event.select().count() == 0


def test_set_secret_asks_with_hidden_input_on_a_terminal(run, affnet_network, monkeypatch):
    import affnet_stripe_ingest.commands as commands

    monkeypatch.setattr(commands, "_interactive", lambda: True)
    result = run("stripe", "set-secret", affnet_network.offer.slug, input=TEST_SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert "Stripe signing secret" in result.output and TEST_SECRET not in result.output
    assert get_offer_secret(affnet_network.offer, SECRET_NAME) == TEST_SECRET
