"""The `affnet` command: init, demo, users, offers, participations, plugins, --json."""

import json

import pytest
from click.testing import CliRunner

from affnet.cli import cli
from affnet.commands import register_all

register_all(cli)


@pytest.fixture
def run(affnet_fresh):
    def invoke(*args):
        result = affnet_fresh(*args)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_init_makes_the_instance_and_prints_the_admin_password_once(run, tmp_path):
    first = json.loads(run("init", "--json"))
    assert first["admin"]["email"] == "admin@localhost" and len(first["admin"]["password"]) >= 12
    assert (tmp_path / "instance" / "secret_key").exists()
    assert (tmp_path / "instance" / "encryption.keys").exists()
    second = json.loads(run("init", "--json"))
    assert "admin" not in second and second["made"] == []


def test_init_keeps_secrets_out_of_the_database(run, tmp_path):
    run("init")
    key = (tmp_path / "instance" / "encryption.keys").read_text().strip().encode()
    assert key not in (tmp_path / "affnet.db").read_bytes()


def test_demo_prints_its_refcodes_and_offer_key(run):
    run("init")
    demo = json.loads(run("demo", "--json"))
    assert demo["offer"] == "susurra" and demo["offer_key"].startswith("ok_")
    assert len(demo["affiliates"]) == 2 and all(a["ref_code"] for a in demo["affiliates"])
    assert demo["clicks"] > 0 and demo["events"] > 0


def test_demo_refuses_to_run_twice(run):
    run("init")
    run("demo")
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code != 0 and "exists already" in result.output


def test_commands_make_users_offers_and_participations(run):
    run("init")
    owner = json.loads(run("users", "create", "o@example.com", "--role", "advertiser", "--json"))
    assert owner["password"]
    run("users", "create", "a@example.com", "--role", "affiliate")
    offer = json.loads(
        run(
            "offers",
            "create",
            "Susurra",
            "--advertiser",
            "o@example.com",
            "--landing-url",
            "https://s.example/",
            "--rule",
            "sale=30%",
            "--json",
        )
    )
    assert offer["slug"] == "susurra" and offer["offer_key"].startswith("ok_")
    part = json.loads(run("participations", "create", "--affiliate", "a@example.com", "--offer", "susurra", "--json"))
    assert part["status"] == "approved" and part["link"].endswith(part["ref_code"])
    rotated = json.loads(run("offers", "rotate-key", "susurra", "--json"))
    assert rotated["offer_key"] != offer["offer_key"]
    paused = json.loads(run("participations", "set-status", part["ref_code"], "paused", "--json"))
    assert paused["status"] == "paused"


def test_a_bad_rule_is_refused_with_a_clear_message(run):
    run("init")
    run("users", "create", "o@example.com", "--role", "advertiser")
    result = CliRunner().invoke(
        cli,
        [
            "offers",
            "create",
            "X",
            "--advertiser",
            "o@example.com",
            "--landing-url",
            "https://x.example/",
            "--rule",
            "sale=lots",
        ],
    )
    assert result.exit_code != 0 and "sale=30%" in result.output


def test_plugins_lists_installed_and_enabled_plugins(run):
    listing = json.loads(run("plugins", "--json"))
    assert listing["enabled_but_missing"] == []
    assert all({"name", "enabled", "hooks"} <= set(row) for row in listing["plugins"])


def test_a_wrong_config_value_stops_a_command_with_one_line(run, monkeypatch):
    monkeypatch.setenv("AFFNET_SERVER_PORT", "eighty")
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code != 0
    assert "server.port" in result.output and len(result.output.strip().splitlines()) == 1


def test_every_command_has_help(run):
    import click as click_lib

    def walk(group, path):
        for name, command in group.commands.items():
            yield path + [name]
            if isinstance(command, click_lib.Group):
                yield from walk(command, path + [name])

    for path in walk(cli, []):
        assert "Usage:" in run(*path, "--help")


# Each command whose work a page does too, and that page (the README's tour starts on the pages).
REPLACED_BY_PAGES = {
    ("users", "list"): "/admin/users",
    ("users", "approve"): "/admin/users",
    ("users", "disable"): "/admin/users",
    ("users", "enable"): "/admin/users",
    ("users", "reset-password"): "/admin/users",
    ("users", "reset-two-factor"): "/admin/users",
    ("offers", "create"): "/owner/offers/new",
    ("offers", "edit"): "/owner/offers/SLUG",
    ("offers", "rotate-key"): "/owner/offers/SLUG",
    ("offers", "list"): "/admin/offers",
    ("participations", "list"): "/admin/participations",
    ("participations", "set-status"): "/admin/participations",
    ("payouts",): "/admin/payouts",
    ("settings",): "/settings/KIND",
    ("deliveries",): "/admin/deliveries",
    ("tokens",): "/tokens",
    ("plugins",): "/admin/plugins",
    ("config", "show"): "/admin/settings",
    ("stripe",): "/owner/offers/SLUG/integrations/stripe",
}


@pytest.mark.parametrize("path, page", REPLACED_BY_PAGES.items(), ids=[" ".join(path) for path in REPLACED_BY_PAGES])
def test_every_command_the_pages_replace_says_so_in_its_help(path, page):
    from affnet.cli import _register_plugin_commands

    _register_plugin_commands()
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert page in " ".join(result.output.split()), result.output


def test_worker_once_sends_what_is_due_and_exits(run):
    run("init")
    assert json.loads(run("worker", "--once", "--json")) == {"claimed": 0}


def test_the_commands_do_not_import_the_cli_module():
    """cli.py registers the commands; the commands take what they share from
    affnet.commands.common, so the two never import each other."""
    import ast
    from pathlib import Path
    import affnet.commands

    for path in Path(affnet.commands.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert module not in ("..cli", "affnet.cli"), f"{path.name} imports {module}"
