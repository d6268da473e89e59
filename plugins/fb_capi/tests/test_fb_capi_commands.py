"""`affnet fb-capi set`: an affiliate's pixel settings with the access token
kept off the command line: from a hidden prompt, a file or
standard input; ``--token`` still works and its help says what it costs."""

import json

import pytest

from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import SettingVersion

TOKEN = "EAAGsecretConversionsApiToken0123456789"
PIXEL = "1234567890123"


@pytest.fixture
def run(affnet_cli):
    return affnet_cli


def saved_token(network) -> str:
    versions = setting_versions.history("fb_capi", network.affiliate.id, None)
    assert len(versions) == 1
    return setting_versions.decrypt_values(versions[0].values)["access_token"]


def set_pixel(run, *extra, input=None):
    return run("fb-capi", "set", "--affiliate", "aff@example.com", "--pixel-id", PIXEL, *extra, input=input)


def test_the_token_is_read_from_a_hidden_prompt_and_never_printed(run, affnet_network):
    result = set_pixel(run, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and "access token" in result.output.lower()
    assert f"pixel_id={PIXEL}" in result.output and "…6789" in result.output
    assert saved_token(affnet_network) == TOKEN


def test_the_token_is_read_from_a_file(run, affnet_network, tmp_path):
    token_file = tmp_path / "fb-token.txt"
    token_file.write_text(TOKEN + "\n")
    result = set_pixel(run, "--token-file", str(token_file), "--json")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and json.loads(result.output)["values"]["access_token"] == "…6789"
    assert saved_token(affnet_network) == TOKEN


def test_the_token_is_read_from_standard_input_with_token_file_dash(run, affnet_network):
    result = set_pixel(run, "--token-file", "-", "--test-event-code", "TEST123", input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert saved_token(affnet_network) == TOKEN


def test_the_token_option_still_works_and_its_help_says_others_can_see_it(run, affnet_network):
    result = set_pixel(run, "--token", TOKEN)
    assert result.exit_code == 0, result.output
    assert saved_token(affnet_network) == TOKEN
    help_text = " ".join(run("fb-capi", "set", "--help").output.split())
    assert "visible to other users" in help_text


@pytest.mark.parametrize("how", [("--token-file", "-"), ("--token", "   ")])
def test_an_empty_token_saves_nothing(run, affnet_network, how):
    result = set_pixel(run, *how, input="\n")
    assert result.exit_code != 0 and "no access token" in result.output
    assert SettingVersion.select().count() == 0


def test_a_token_and_a_token_file_together_are_refused(run, affnet_network, tmp_path):
    token_file = tmp_path / "fb-token.txt"
    token_file.write_text(TOKEN)
    result = set_pixel(run, "--token", TOKEN, "--token-file", str(token_file))
    assert result.exit_code == 2 and SettingVersion.select().count() == 0
