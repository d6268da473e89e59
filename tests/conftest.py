"""Our own tests use the same fixtures as a plugin author (affnet.testing)."""

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def run_affnet(affnet_cli):
    """Run `affnet ...` on the test app; returns (exit code, output)."""

    def invoke(*args):
        result = affnet_cli(*args)
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def affnet_fresh(tmp_path, monkeypatch):
    """Run `affnet ...` as a new user does, in an empty folder with a new
    SQLite database and instance (nothing made yet); returns click's result."""
    from click.testing import CliRunner

    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AFFNET_CONFIG", raising=False)
    monkeypatch.setenv("AFFNET_DATABASE_URL", f"sqlite:///{tmp_path}/affnet.db")
    monkeypatch.setenv("AFFNET_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke
