"""The docs keep up with the code: every hook in the plugin manual with its
exact signature, every config key in the example config."""

import inspect
import re
import tomllib
from pathlib import Path

from affnet.config import FIELDS
from affnet.plugins import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def hook_specs():
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, "affnet_spec")
    }


def documented_hooks():
    manual = (ROOT / "docs" / "plugins.md").read_text()
    return dict(re.findall(r"^### `(\w+)(\([^)]*\))`", manual, re.MULTILINE))


def test_every_hook_is_in_the_plugin_manual_with_its_exact_signature():
    documented = documented_hooks()
    for name, function in hook_specs().items():
        assert name in documented, f"docs/plugins.md has no '### `{name}(...)`' section"
        assert documented[name] == str(inspect.signature(function)), f"{name} is documented with another signature"


def test_the_manual_documents_no_hook_that_does_not_exist():
    assert set(documented_hooks()) <= set(hook_specs())


def test_every_hook_spec_has_a_docstring():
    for name, function in hook_specs().items():
        assert (function.__doc__ or "").strip(), f"hook {name} has no docstring"


def test_the_example_config_is_current():
    from click.testing import CliRunner
    from affnet.cli import cli
    from affnet.commands import register_all

    register_all(cli)
    assert (ROOT / "config" / "affnet.example.toml").read_text() == CliRunner().invoke(
        cli, ["config", "example"]
    ).output, "regenerate it: affnet config example > config/affnet.example.toml"


def test_every_config_key_is_in_the_example_config():
    with open(ROOT / "config" / "affnet.example.toml", "rb") as handle:
        document = tomllib.load(handle)
    document.pop("plugin", None)
    flat = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    assert set(flat) == {field.key for field in FIELDS}


def test_the_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert "make run" in head and "make test" in head


def test_the_stats_guide_shows_every_column_of_the_export():
    from affnet.core.reports import EXPORT_COLUMNS

    guide = (ROOT / "docs" / "stats.md").read_text()
    assert re.search(r"^```csv\n(.*)$", guide, re.MULTILINE).group(1).split(",") == list(EXPORT_COLUMNS)


def test_the_integration_guide_names_every_ad_platform_click_id_the_link_keeps():
    from affnet.core.clicks.tracking import AD_CLICK_IDS

    guide = (ROOT / "docs" / "integration-guide.md").read_text()
    section = guide[guide.index("#### Ad platform click ids") : guide.index("### 2.")]
    assert re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE) == ["fbclid", *AD_CLICK_IDS]


def test_the_manual_describes_every_name_of_affnet_testing():
    import affnet.testing

    manual = (ROOT / "docs" / "plugins.md").read_text()
    section = manual[manual.index("## Fixtures for plugin tests") :]
    documented = {name for name in affnet.testing.__all__ if re.search(rf"`{name}[`(]", section)}
    internal = {"DEFAULT_POSTGRES", "postgres_schema_url", "Clock", "Network"}
    assert set(affnet.testing.__all__) - internal - documented == set()


def test_the_manual_gives_every_field_of_the_event_shapes_with_its_type():
    import dataclasses
    import typing

    from affnet.plugins import ClickInfo, EventInfo, OfferInfo

    manual = (ROOT / "docs" / "plugins.md").read_text()
    for shape in (EventInfo, OfferInfo, ClickInfo):
        table = manual[manual.index(f"`{shape.__name__}`:\n") :]
        table = table[: table.index("\n\n", table.index("| ---"))]
        rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", table, re.MULTILINE))
        hints = typing.get_type_hints(shape)
        expected = {f.name: _type_text(hints[f.name]) for f in dataclasses.fields(shape)}
        assert {name: kind.replace("\\|", "|") for name, kind in rows.items()} == expected, shape.__name__


def _type_text(hint) -> str:
    import types
    import typing

    if hint is type(None):
        return "None"
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " | ".join(_type_text(arg) for arg in typing.get_args(hint))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    return f"{origin.__name__}[{', '.join(_type_text(arg) for arg in args)}]"


def test_the_runtime_install_holds_no_test_package_or_test_plugin():
    import configparser

    makefile = (ROOT / "Makefile").read_text()
    runtime = makefile[makefile.index("$(VENV)/.runtime:") : makefile.index("$(VENV)/.installed:")]
    assert "[test]" not in runtime and "requirements-test" not in runtime and "TEST_PLUGINS" not in runtime
    assert "tests/" not in makefile[makefile.index("PLUGINS :=") : makefile.index("TEST_PLUGINS :=")]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    requires = setup["options"]["install_requires"].lower()
    for tool in ("pytest", "hypothesis", "selenium", "ruff", "mypy", "facebook-business"):
        assert tool not in requires
    assert "\nrun: install\n" in makefile, "make run needs the runtime only"
