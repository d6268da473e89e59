"""The audit log: every change is recorded with who, when, from where and what changed (old and new);
secrets only as changed; append-only in the database; each role reads only what is theirs."""

import json

import pytest
from peewee import DatabaseError

from affnet.core.deliveries import setting_versions
from affnet.core.network import accounts, api_tokens, audit, users
from affnet.core.network.offer_secrets import set_offer_secret
from affnet.core.storage.db import db
from affnet.core.storage.models import AuditEntry
from tests import sample_plugin

SECRET_TOKEN = "s3cr3t-postback-token-42"


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


def only(action: str) -> AuditEntry:
    found = list(AuditEntry.select().where(AuditEntry.action == action))
    assert len(found) == 1, [e.action for e in AuditEntry.select()]
    return found[0]


def stored_text() -> str:
    return json.dumps([(e.action, e.subject, e.changes) for e in AuditEntry.select()])


def test_an_offer_edit_records_the_old_and_new_value_of_each_changed_field(affnet_app, affnet_network):
    with audit.acting(audit.Actor(user=affnet_network.advertiser, ip="203.0.113.7")):
        accounts.edit_offer(affnet_network.offer, landing_url="https://susurra.example/v2", hold_days=14)
    entry = only("offer.edit")
    assert entry.changes == {
        "hold_days": {"old": 7, "new": 14},
        "landing_url": {"old": "https://susurra.example/start?lang=en", "new": "https://susurra.example/v2"},
    }
    assert (entry.actor_id, entry.actor_label, entry.ip, entry.offer_id) == (
        affnet_network.advertiser.id,
        "owner@example.com",
        "203.0.113.7",
        affnet_network.offer.id,
    )


def test_an_edit_that_changes_nothing_records_nothing(affnet_app, affnet_network):
    accounts.edit_offer(affnet_network.offer, hold_days=affnet_network.offer.hold_days)
    assert not AuditEntry.select().where(AuditEntry.action == "offer.edit").exists()


def test_a_commission_change_records_the_rule_before_and_after(affnet_app, affnet_network):
    accounts.set_rule(affnet_network.offer, accounts.RuleSpec.parse("rebill=25%:12"))
    changes = [e.changes for e in AuditEntry.select().where(AuditEntry.action == "commission.set")]
    assert changes[-1] == {"rebill": {"old": "rebill=20%", "new": "rebill=25%:12"}}


def test_a_key_rotation_is_recorded_without_the_key(affnet_app, affnet_network):
    key = accounts.rotate_offer_key(affnet_network.offer)
    assert only("offer.key_rotate").changes == {"key": {"changed": True}}
    assert key not in stored_text() and affnet_network.offer_key not in stored_text()


def test_an_offer_secret_is_recorded_only_as_changed(affnet_app, affnet_network):
    set_offer_secret(affnet_network.offer, "stripe.signing_secret", "whsec_do_not_log_me")
    assert only("offer.secret").changes == {"stripe.signing_secret": {"changed": True}}
    assert "whsec_do_not_log_me" not in stored_text()


def test_a_setting_records_its_plain_fields_and_its_secret_only_as_changed(affnet_app, affnet_network):
    values = {"url": "https://tracker.example/postback", "token": SECRET_TOKEN}
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, values)
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, {**values, "token": "another-secret-value"})
    first, second = AuditEntry.select().where(AuditEntry.action == "setting.sample").order_by(AuditEntry.id)
    assert first.changes["url"] == {"old": None, "new": "https://tracker.example/postback"}
    assert first.changes["token"] == {"changed": True} and second.changes["token"] == {"changed": True}
    assert "url" not in second.changes, "an unchanged field is not listed"
    assert first.account_id == affnet_network.affiliate.id
    assert SECRET_TOKEN not in stored_text() and "another-secret-value" not in stored_text()


def test_approvals_roles_passwords_and_tokens_are_recorded(affnet_app, affnet_network):
    other = affnet_network.add_affiliate("other@example.com", status="pending")
    accounts.set_participation_status(other, "approved", note="welcome")
    users.set_role(other.affiliate, "advertiser")
    users.set_password(other.affiliate, "a-new-password-of-theirs")
    _, token = api_tokens.create_token(affnet_network.affiliate, "keitaro")
    decided = AuditEntry.get((AuditEntry.action == "participation.status") & (AuditEntry.subject == other.ref_code))
    assert decided.changes == {
        "note": {"old": "", "new": "welcome"},
        "status": {"old": "pending", "new": "approved"},
    }
    assert only("user.role").changes == {"role": {"old": "affiliate", "new": "advertiser"}}
    assert only("user.password").changes == {"password": {"changed": True}}
    assert only("token.create").changes == {"token": {"changed": True}}
    assert token not in stored_text() and "a-new-password-of-theirs" not in stored_text()


def test_a_change_made_outside_a_request_and_the_command_line_is_by_the_system(affnet_app, affnet_network):
    accounts.set_offer_active(affnet_network.offer, False)
    entry = only("offer.edit")
    assert (entry.actor_id, entry.actor_label, entry.changes) == (
        None,
        "system",
        {"is_active": {"old": True, "new": False}},
    )


def test_the_command_line_names_itself_as_the_actor(affnet_cli, affnet_network):
    result = affnet_cli("offers", "edit", "susurra", "--approval", "auto")
    assert result.exit_code == 0, result.output
    entry = only("offer.edit")
    assert entry.actor_label.startswith("command line (") and entry.changes["approval"]["new"] == "auto"


def test_the_database_refuses_to_change_or_delete_an_entry(affnet_app, affnet_network):
    accounts.edit_offer(affnet_network.offer, hold_days=3)
    entry = only("offer.edit")
    for change in (
        lambda: AuditEntry.update(changes={}).where(AuditEntry.id == entry.id).execute(),
        lambda: AuditEntry.delete().where(AuditEntry.id == entry.id).execute(),
        lambda: db.execute_sql('DELETE FROM "audit_entry"'),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with db.atomic():
                change()
    assert AuditEntry.get_by_id(entry.id).changes == {"hold_days": {"old": 7, "new": 3}}


def test_each_role_reads_only_what_is_theirs(affnet_app, affnet_network):
    admin, _ = accounts.create_user("root@example.com", "admin")
    rival, _ = accounts.create_user("rival@example.com", "advertiser")
    rival_offer, _ = accounts.create_offer(rival, "Rival", "https://rival.example/")
    accounts.edit_offer(affnet_network.offer, hold_days=3)
    accounts.edit_offer(rival_offer, hold_days=5)
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, {"url": "https://t.example/p"})

    def subjects(viewer):
        return {(e.action, e.subject) for e in audit.entries_for(viewer)}

    assert ("offer.edit", "rival") in subjects(admin) and ("offer.edit", "susurra") in subjects(admin)
    assert ("offer.edit", "susurra") in subjects(affnet_network.advertiser)
    assert not any(subject == "rival" for _, subject in subjects(affnet_network.advertiser))
    mine = subjects(affnet_network.affiliate)
    assert ("setting.sample", "aff@example.com") in mine
    assert not any(action.startswith("offer.") for action, _ in mine)
