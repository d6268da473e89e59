"""Our own tests use the same fixtures as a plugin author (affnet.testing)."""
import json

import pytest
from click.testing import CliRunner

pytest_plugins = ["pytester"]


@pytest.fixture
def run_affnet(affnet_app, affnet_settings, tmp_path):
    """Run `affnet --config <the test app's database and instance> ...`;
    returns (exit code, output)."""
    from affnet.cli import cli
    from affnet.commands import register_all
    register_all(cli)
    config = tmp_path / "affnet.toml"
    config.write_text(f"database_url = {json.dumps(affnet_settings['database_url'])}\n"
                      f"instance_path = {json.dumps(str(affnet_settings['instance_path']))}\n"
                      "[plugins]\nenabled = []\n")
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        return result.exit_code, result.output
    return invoke
