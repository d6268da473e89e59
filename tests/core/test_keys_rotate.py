"""`affnet keys rotate`: a new encryption key, every stored secret
re-encrypted under it, and the old key then safe to drop."""

import json

import pytest
from click.testing import CliRunner

from affnet.cli import cli
from affnet.commands import register_all
from affnet.core.network import offer_secrets
from affnet.core.deliveries import setting_versions
from affnet.core.storage.db import db
from affnet.core.storage.models import SettingVersion
from affnet.core.storage.secrets import KEYS_FILE, SecretError, keyring, write_keys_file
from affnet.plugins.types import DeliveryKind, SettingField

VAULT = DeliveryKind("vault", "Vault", (SettingField("token", "Token", secret=True),))
TOKEN = "EAAB-pixel-token-never-in-clear-0042"
SIGNING = "whsec_offer_signing_secret_7777"


@pytest.fixture
def rotate(affnet_settings, tmp_path):
    """Runs `affnet keys rotate [args]` on the test's database and instance."""
    register_all(cli)
    config = tmp_path / "affnet.toml"
    config.write_text(
        f'database_url = "{affnet_settings.database_url}"\ninstance_path = "{affnet_settings.instance_path}"\n'
    )

    def run(*args, env=None):
        db.close()
        db.obj.close_all()  # the command opens the database afresh
        return CliRunner().invoke(cli, ["--config", str(config), "keys", "rotate", "--json", *args], env=env)

    return run


def keys_on_disk(settings) -> list[str]:
    return (settings.instance_path / KEYS_FILE).read_text().split()


def saved_secrets(network):
    version, _ = setting_versions.save(VAULT, network.affiliate, {"token": TOKEN})
    offer_secrets.set_offer_secret(network.offer, "signing_secret", SIGNING)
    return version.id


def stored_secrets(version_id, network):
    return (
        setting_versions.decrypt_values(SettingVersion.get_by_id(version_id).values)["token"],
        offer_secrets.get_offer_secret(network.offer, "signing_secret"),
    )


def test_a_secret_saved_under_the_old_key_decrypts_after_rotation_and_the_old_key_can_then_be_dropped(
    affnet_settings, affnet_network, rotate
):
    version_id = saved_secrets(affnet_network)
    (old_key,) = keys_on_disk(affnet_settings)
    before = SettingVersion.get_by_id(version_id).values["token"]

    result = rotate()

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"reencrypted": 2, "keys": 2}
    new_key, kept = keys_on_disk(affnet_settings)
    assert kept == old_key and new_key != old_key
    assert SettingVersion.get_by_id(version_id).values["token"] != before
    assert stored_secrets(version_id, affnet_network) == (TOKEN, SIGNING)
    keyring.use([old_key.encode()])
    with pytest.raises(SecretError):
        stored_secrets(version_id, affnet_network)  # so nothing is left under the old key
    write_keys_file(affnet_settings.instance_path, [new_key])
    keyring.load(affnet_settings.instance_path)
    assert stored_secrets(version_id, affnet_network) == (TOKEN, SIGNING)


def test_rotate_with_drop_old_keeps_only_the_new_key_and_every_secret_still_decrypts(
    affnet_settings, affnet_network, rotate
):
    version_id = saved_secrets(affnet_network)
    (old_key,) = keys_on_disk(affnet_settings)
    result = rotate("--drop-old")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"reencrypted": 2, "keys": 1}
    (new_key,) = keys_on_disk(affnet_settings)
    assert new_key != old_key
    keyring.load(affnet_settings.instance_path)
    assert stored_secrets(version_id, affnet_network) == (TOKEN, SIGNING)


def test_rotate_refuses_when_the_keys_come_from_the_environment_and_changes_nothing(
    affnet_settings, affnet_network, rotate
):
    version_id = saved_secrets(affnet_network)
    env_key = keyring.keys[0].decode()
    before = SettingVersion.get_by_id(version_id).values["token"]
    result = rotate(env={"AFFNET_ENCRYPTION_KEYS": env_key})
    assert result.exit_code != 0 and "AFFNET_ENCRYPTION_KEYS" in result.output
    assert keys_on_disk(affnet_settings) == [env_key]
    assert SettingVersion.get_by_id(version_id).values["token"] == before


POSTBACK = DeliveryKind("hook", "Hook", (SettingField("url", "URL", url=True),))
POSTBACK_URL = "https://kt:pa55-0042@tracker.example/pb?api_key=k3y-0042&subid={clickid}"


def test_a_sealed_url_is_reencrypted_and_reads_the_same_under_the_new_key_alone(
    affnet_settings, affnet_network, rotate
):
    version, _ = setting_versions.save(POSTBACK, affnet_network.affiliate, {"url": POSTBACK_URL})
    before = SettingVersion.get_by_id(version.id).values["url"]
    assert before.startswith(setting_versions.SEALED)

    result = rotate("--drop-old")

    assert result.exit_code == 0 and json.loads(result.output)["reencrypted"] == 1, result.output
    after = SettingVersion.get_by_id(version.id).values["url"]
    assert after.startswith(setting_versions.SEALED) and after != before
    keyring.load(affnet_settings.instance_path)
    assert setting_versions.decrypt_values(SettingVersion.get_by_id(version.id).values)["url"] == POSTBACK_URL


def test_rotate_seals_a_url_saved_in_clear_before_urls_were_sealed(affnet_settings, affnet_network, rotate):
    version, _ = setting_versions.save(POSTBACK, affnet_network.affiliate, {"url": POSTBACK_URL})
    SettingVersion.update(values={"url": POSTBACK_URL}).where(SettingVersion.id == version.id).execute()

    result = rotate()

    assert result.exit_code == 0 and json.loads(result.output)["reencrypted"] == 1, result.output
    stored = SettingVersion.get_by_id(version.id).values["url"]
    assert stored.startswith(setting_versions.SEALED) and "pa55-0042" not in stored
    keyring.load(affnet_settings.instance_path)
    assert setting_versions.decrypt_values(SettingVersion.get_by_id(version.id).values)["url"] == POSTBACK_URL
