"""Installation commands: init, migrate, plugins, keys."""

import os

import click

from .common import JSON_OPTION, emit, with_db
from ..config import masked_url
from ..core.storage import migrations
from ..core.storage.db import db, open_database


def prepare(settings, progress=click.echo) -> dict:
    """Make what is missing: the instance folder and its secrets, the schema,
    an admin (its password is in the result, the only time it exists)."""
    from ..core.network.accounts import create_user
    from ..core.storage.models import User
    from ..instance import init_instance

    made = init_instance(settings.instance_path)
    open_database(settings.database_url)
    result = {"instance": str(settings.instance_path), "made": made, "database": masked_url(settings.database_url)}
    with db.connection_context():
        before, after = migrations.migrate(progress=progress)
        result["schema_version"] = after
        if not User.select().where(User.role == "admin").exists():
            user, password = create_user("admin@localhost", "admin", name="Operator")
            result["admin"] = {"email": user.email, "password": password}
    return result


@click.command()
@JSON_OPTION
@click.pass_obj
def init(ctx, as_json):
    """Create the instance folder, its secrets, the schema and an admin.

    Safe to run again: it only makes what is missing. The admin password is
    printed once, when the admin is made."""
    result = prepare(ctx.settings, progress=lambda line: None if as_json else click.echo(line))
    if as_json:
        emit(result, True)
        return
    for path in result["made"]:
        click.echo(f"made {path}")
    if "admin" in result:
        click.echo(f"admin account: {result['admin']['email']}  password: {result['admin']['password']}")
        click.echo("(the password is shown this once: keep it now)")
    click.echo(f"ready: schema version {result['schema_version']}, database {result['database']}")


@click.command()
@JSON_OPTION
@click.pass_obj
def migrate(ctx, as_json):
    """Bring the database schema up to date."""
    open_database(ctx.settings.database_url)
    with db.connection_context():
        before, after = migrations.migrate(progress=lambda line: None if as_json else click.echo(line))
    emit(
        {"from_version": before, "to_version": after},
        as_json,
        f"schema version {before if before is not None else 'none'} -> {after}",
    )


@click.command("plugins")
@JSON_OPTION
@click.pass_obj
def plugins_command(ctx, as_json):
    """List installed plugins, which are enabled, and the hooks each implements.

    Also on the page /admin/plugins."""
    from ..plugins.manager import plugin_report

    rows, missing = plugin_report(ctx.settings["plugins.enabled"])
    if as_json:
        emit({"plugins": rows, "enabled_but_missing": missing}, True)
        return
    for row in rows:
        state = "enabled " if row["enabled"] else "disabled"
        click.echo(f"{row['name']:<16} {state} {row['module']:<28} {', '.join(row['hooks']) or '-'}")
    for name in missing:
        click.echo(f"{name:<16} ENABLED BUT NOT INSTALLED")
    click.echo(f"{len(rows)} installed, {sum(row['enabled'] for row in rows)} enabled")


@click.group()
def keys():
    """Encryption keys of stored secrets."""


@keys.command("rotate")
@click.option("--drop-old", is_flag=True, help="After re-encrypting, keep only the new key.")
@JSON_OPTION
@click.pass_obj
def keys_rotate(ctx, drop_old, as_json):
    """Add a new encryption key, re-encrypt every stored secret with it."""
    from ..core.network import network_secrets, offer_secrets, two_factor
    from ..core.deliveries import setting_versions
    from ..core.storage.secrets import keyring, new_fernet_key, write_keys_file

    if os.environ.get("AFFNET_ENCRYPTION_KEYS"):
        # A new key written to the keys file would be ignored: nothing would rotate.
        raise click.ClickException(
            "the encryption keys come from AFFNET_ENCRYPTION_KEYS, which overrides instance/encryption.keys: "
            "`affnet keys rotate` manages the keys file only. Put the same keys in the file, unset the "
            "variable, and run it again."
        )
    settings = ctx.settings
    open_database(settings.database_url)
    keyring.load(settings.instance_path)
    new_key = new_fernet_key()
    old_keys = [key.decode() for key in keyring.keys]
    write_keys_file(settings.instance_path, [new_key] + old_keys)
    keyring.load(settings.instance_path)
    with db.connection_context(), db.atomic():
        count = (
            setting_versions.reencrypt_all()
            + offer_secrets.reencrypt_offer_secrets()
            + network_secrets.reencrypt_network_secrets()
            + two_factor.reencrypt_secrets()
        )
    if drop_old:
        write_keys_file(settings.instance_path, [new_key])
    emit(
        {"reencrypted": count, "keys": 1 if drop_old else len(old_keys) + 1},
        as_json,
        f"re-encrypted {count} secrets under a new key; {'old keys dropped' if drop_old else 'old keys kept'}",
    )


@click.group("config")
def config_group():
    """The configuration: the example file, and what is in force."""


@config_group.command("example")
def config_example():
    """Print the commented example config (every key with its default, and
    the section of every installed plugin)."""
    from ..config import example_toml
    from ..plugins.manager import PluginError, declared_config, get_plugin_manager, installed_plugins

    try:
        sections = declared_config(get_plugin_manager(sorted(installed_plugins())))
    except PluginError as error:  # an installed plugin that does not load: the core's keys still print
        click.echo(f"# {error}", err=True)
        sections = {}
    click.echo(example_toml(sections), nl=False)


@config_group.command("show")
@JSON_OPTION
@click.pass_obj
def config_show(ctx, as_json):
    """Print the settings of the file, the environment and the defaults, merged.

    Network policies saved on the settings page override some of them (the page says which).
    Also on the page /admin/settings."""
    values = ctx.settings.as_dict()
    values["database_url"] = masked_url(values["database_url"])
    emit({"source": ctx.settings.source, **values}, as_json)


def register(cli):
    for command in (init, migrate, plugins_command, keys, config_group):
        cli.add_command(command)


__all__ = ["register", "with_db"]
