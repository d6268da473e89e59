"""English and Spanish: every string of the pages is in the catalog, translated, and compiled."""

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from .conftest import log_in

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "affnet" / "translations"


def _po(path: Path, **options):
    with path.open("rb") as handle:
        return read_po(handle, **options)


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


def _plain(value):
    """A plural's id or forms as a tuple: the .mo reader gives lists, the .po reader tuples."""
    return tuple(value) if isinstance(value, list) else value


def _forms(string) -> tuple:
    """Every form of a translation: one for a plain message, each plural form for a plural one."""
    return tuple(string) if isinstance(string, (list, tuple)) else (string,)


def _entries(catalog) -> dict:
    return {_plain(message.id): _plain(message.string) for message in catalog if message.id}


PLUGIN_PACKAGES = sorted(path.parent for path in (ROOT / "plugins").glob("*/affnet_*/translations"))
CATALOG_FOLDERS = [CATALOGS] + [package / "translations" for package in PLUGIN_PACKAGES]


def _extract(*arguments) -> set:
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "--no-location", "-o", str(fresh), *arguments],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        return _ids(_po(fresh))


def test_the_template_holds_every_string_of_the_code_and_pages():
    fresh = _extract("-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", ".")
    assert fresh == _ids(_po(CATALOGS / "messages.pot")), "run make translations"


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda package: package.name)
def test_a_bundled_plugins_template_holds_every_text_it_marks(package):
    assert _extract(str(package.relative_to(ROOT))) == _ids(_po(package / "translations" / "messages.pot"))


@pytest.mark.parametrize("folder", CATALOG_FOLDERS, ids=lambda folder: folder.parent.name)
def test_the_spanish_catalog_has_no_missing_or_fuzzy_string(folder):
    template = _po(folder / "messages.pot")
    spanish = _po(folder / "es" / "LC_MESSAGES" / "messages.po", locale="es")
    assert _ids(template) - _ids(spanish) == set()
    untranslated = [
        message.id for message in spanish if message.id and (not all(_forms(message.string)) or message.fuzzy)
    ]
    assert untranslated == []


@pytest.mark.parametrize("folder", CATALOG_FOLDERS, ids=lambda folder: folder.parent.name)
def test_the_compiled_spanish_catalog_is_the_current_one(folder):
    spanish = _po(folder / "es" / "LC_MESSAGES" / "messages.po", locale="es")
    compiled = read_mo(io.BytesIO((folder / "es" / "LC_MESSAGES" / "messages.mo").read_bytes()))
    assert _entries(compiled) == _entries(spanish)


def test_the_page_follows_the_browser_then_the_switch_then_the_account(browser, people):
    from affnet.core.network import users
    from affnet.core.storage.models import User

    spanish = {"Accept-Language": "es-ES,es;q=0.9"}
    assert "Entrar" in browser.get("/login", headers=spanish).get_data(as_text=True)
    assert "Log in" in browser.get("/login?lang=en", headers=spanish).get_data(as_text=True)
    assert "Log in" in browser.get("/login", headers=spanish).get_data(as_text=True), "the switch is kept"
    users.set_profile(User.get(User.email == "aff@example.com"), "Ana", "es")
    log_in(browser, "aff@example.com")
    page = browser.get("/dashboard").get_data(as_text=True)
    assert 'lang="es"' in page and "Clics" in page
