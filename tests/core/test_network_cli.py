"""The command line keeps up with the pages: users, participations and offers for scripts."""

import json

from affnet.core.network import users
from affnet.core.storage.models import Offer, User


def test_users_list_shows_every_account_with_its_state_and_json(affnet_cli, affnet_network):
    users.sign_up("new@example.com", "long-enough-pass")
    text = affnet_cli("users", "list").output
    assert "new@example.com" in text and "waiting" in text and "owner@example.com" in text
    rows = json.loads(affnet_cli("users", "list", "--waiting", "--json").output)
    assert [(row["email"], row["state"]) for row in rows] == [("new@example.com", "waiting")]


def test_users_approve_disable_and_enable(affnet_cli, affnet_network):
    users.sign_up("new@example.com", "long-enough-pass")
    assert "new@example.com: active" in affnet_cli("users", "approve", "new@example.com").output
    before = User.get(User.email == "aff@example.com").session_version
    assert "disabled" in affnet_cli("users", "disable", "aff@example.com").output
    disabled = User.get(User.email == "aff@example.com")
    assert not disabled.is_active and disabled.session_version == before + 1
    assert "active" in affnet_cli("users", "enable", "aff@example.com").output
    assert affnet_cli("users", "disable", "nobody@example.com").exit_code != 0


def test_users_reset_password_prints_a_one_time_link_that_sets_a_password(affnet_cli, affnet_network, affnet_client):
    result = json.loads(affnet_cli("users", "reset-password", "aff@example.com", "--json").output)
    path = result["link"].split("127.0.0.1:8000", 1)[1]
    assert path.startswith("/reset/") and affnet_client.get(path).status_code == 200
    token = path.rsplit("/", 1)[1]
    users.use_reset(token, "a-brand-new-pass")
    assert users.authenticate("aff@example.com", "a-brand-new-pass") is not None
    assert affnet_client.get(path).status_code == 410


def test_participations_list_finds_a_lost_ref_code(affnet_cli, affnet_network):
    rows = json.loads(affnet_cli("participations", "list", "--affiliate", "aff@example.com", "--json").output)
    assert [(row["ref_code"], row["offer"], row["status"]) for row in rows] == [
        (affnet_network.ref, "susurra", "approved")
    ]
    assert affnet_network.ref in affnet_cli("participations", "list", "--offer", "susurra").output


def test_offers_list_prints_a_table_and_json(affnet_cli, affnet_network):
    text = affnet_cli("offers", "list").output
    assert text.splitlines()[0].split() == ["slug", "currency", "state", "approval", "advertiser", "rules"]
    assert "susurra" in text and "sale=30%" in text and "lead=0.5" in text
    rows = json.loads(affnet_cli("offers", "list", "--json").output)
    assert rows[0]["slug"] == "susurra" and rows[0]["approval"] == "manual"


def test_offers_edit_changes_the_landing_the_rules_and_the_approval(affnet_cli, affnet_network, affnet_client):
    result = affnet_cli(
        "offers",
        "edit",
        "susurra",
        "--landing-url",
        "https://susurra.example/v2",
        "--rule",
        "sale=40%",
        "--approval",
        "auto",
        "--private",
        "--json",
    )
    assert result.exit_code == 0, result.output
    offer = Offer.get(Offer.slug == "susurra")
    assert (offer.landing_url, offer.approval, offer.is_public) == ("https://susurra.example/v2", "auto", False)
    assert json.loads(result.output)["rules"]["sale"].startswith("40")
    assert (
        affnet_client.get(f"/r?ref={affnet_network.ref}").headers["Location"].startswith("https://susurra.example/v2")
    )


def test_offers_edit_refuses_a_bad_value_and_changes_nothing(affnet_cli, affnet_network):
    result = affnet_cli("offers", "edit", "susurra", "--landing-url", "javascript:alert(1)", "--rule", "sale=30%")
    assert result.exit_code != 0 and "landing URL" in result.output
    bad_rule = affnet_cli("offers", "edit", "susurra", "--rule", "sale=lots", "--approval", "auto")
    assert bad_rule.exit_code != 0 and Offer.get(Offer.slug == "susurra").approval == "manual"
    assert Offer.get(Offer.slug == "susurra").landing_url == "https://susurra.example/start?lang=en"
