"""The ``affnet`` command.

Every command takes the server's config (``--config`` or ``AFFNET_CONFIG``),
prints what it made, and with ``--json`` prints it as JSON instead.
"""

import os
import sys

import click

from .commands import register_all
from .config import ConfigError, load_settings


class Context:
    def __init__(self, config_path):
        self.config_path = config_path
        self._settings = None
        self._services = None

    @property
    def settings(self):
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
        return self._settings

    def services(self):
        """Open the database and load plugins (after `affnet init`)."""
        if self._services is None:
            from .app import build_services
            from .core.storage.secrets import SecretError
            from .plugins.manager import PluginError

            try:
                self._services = build_services(self.settings)
            except (SecretError, PluginError) as error:
                raise click.ClickException(str(error)) from None
        return self._services


@click.group()
@click.option(
    "--config",
    "config_path",
    envvar="AFFNET_CONFIG",
    type=click.Path(dir_okay=False),
    help="The TOML config file (default: AFFNET_CONFIG, else built-in defaults).",
)
@click.version_option(package_name="affnet")
@click.pass_context
def cli(click_ctx, config_path):
    """affnet: a self-hosted affiliate network."""
    import getpass

    from .core.network import audit

    click_ctx.obj = Context(config_path)
    click_ctx.with_resource(audit.acting(audit.Actor(label=f"command line ({getpass.getuser()})")))


def main():
    register_all(cli)
    _register_plugin_commands()
    cli(prog_name="affnet")


def _register_plugin_commands():
    """Add commands of enabled plugins; a broken config is reported when a
    command needs it, not here (so `affnet --help` always works)."""
    config_path = None
    argv = sys.argv[1:]
    if "--config" in argv and argv.index("--config") + 1 < len(argv):
        config_path = argv[argv.index("--config") + 1]
    try:
        settings = load_settings(config_path or os.environ.get("AFFNET_CONFIG"))
        from .plugins.manager import get_plugin_manager

        pm = get_plugin_manager(settings["plugins.enabled"])
    except Exception:  # reported by the command that needs the config
        return
    pm.hook.register_commands(cli=cli)
