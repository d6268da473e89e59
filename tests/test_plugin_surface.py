"""The bundled plugins use affnet only through its public plugin surface:
``affnet.hookimpl``, ``affnet.plugins`` (and ``affnet.plugins.types`` /
``affnet.plugins.sources``). What they need is what a plugin author needs, so
the surface grows with them and nothing else of affnet is a promise."""

import ast
from pathlib import Path

import pytest

import affnet.plugins

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_MODULES = {"affnet.plugins", "affnet.plugins.types", "affnet.plugins.sources", "affnet.plugins.senders"}
PACKAGES = sorted(path for path in (ROOT / "plugins").glob("*/affnet_*") if path.is_dir())


def affnet_imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import of affnet in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "affnet":
            found.append((node.lineno, node.module, tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names if alias.name.split(".")[0] == "affnet"]
    return found


def outside_the_surface(module: str, names: tuple[str, ...]) -> bool:
    if module == "affnet":
        return not set(names) <= {"hookimpl", "plugins"}
    return module not in ALLOWED_MODULES


def test_there_are_bundled_plugins_to_check():
    assert {path.name for path in PACKAGES} >= {"affnet_keitaro", "affnet_fb_capi", "affnet_stripe_ingest"}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_a_bundled_plugin_imports_nothing_of_affnet_but_its_plugin_surface(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module} {', '.join(names)}".rstrip()
        for path in sorted(package.rglob("*.py"))
        for line, module, names in affnet_imports(path)
        if outside_the_surface(module, names)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_catches_an_import_from_the_core(tmp_path):
    source = tmp_path / "plugin.py"
    source.write_text(
        "from affnet.core.earnings.money import minor_units\nfrom affnet.plugins import now\nimport affnet.net\n"
    )
    assert [outside_the_surface(module, names) for _, module, names in affnet_imports(source)] == [True, False, True]


def test_every_name_the_surface_promises_is_there():
    for name in affnet.plugins.__all__:
        assert getattr(affnet.plugins, name) is not None, name
