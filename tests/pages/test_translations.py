"""English and Spanish: every string of the pages is in the catalog, translated, and compiled."""

import io
import subprocess
import sys
from pathlib import Path

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


def test_the_template_holds_every_string_of_the_code_and_pages(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert _ids(_po(fresh)) == _ids(_po(CATALOGS / "messages.pot")), "run make translations"


def test_the_spanish_catalog_has_no_missing_or_fuzzy_string():
    template = _po(CATALOGS / "messages.pot")
    spanish = _po(CATALOGS / "es" / "LC_MESSAGES" / "messages.po", locale="es")
    assert _ids(template) - _ids(spanish) == set()
    untranslated = [message.id for message in spanish if message.id and (not message.string or message.fuzzy)]
    assert untranslated == []


def test_the_compiled_spanish_catalog_is_the_current_one():
    spanish = _po(CATALOGS / "es" / "LC_MESSAGES" / "messages.po", locale="es")
    compiled = read_mo(io.BytesIO((CATALOGS / "es" / "LC_MESSAGES" / "messages.mo").read_bytes()))
    assert {m.id: m.string for m in compiled if m.id} == {m.id: m.string for m in spanish if m.id}


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
