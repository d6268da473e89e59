"""Every page of every role in a real headless Chromium under the pages' Content-Security-Policy: the
browser blocks nothing, so its console logs no "Content Security Policy" error."""

import pytest

from affnet.testing import free_port

from .browser import Walk, live_server, start_chrome
from .conftest import PASSWORD
from .test_access import PAGES_OF_ACCOUNT, _affiliate_ids

PORT = free_port()

pytestmark = pytest.mark.slow


@pytest.fixture
def affnet_database_url(tmp_path):
    """What the browser blocks does not depend on the database: SQLite."""
    return f"sqlite:///{tmp_path}/affnet.db"


@pytest.fixture
def affnet_plugins():
    import affnet_echo_test.plugin as echo
    import affnet_stripe_ingest.plugin as stripe

    return [("echo_test", echo), ("stripe_ingest", stripe)]


@pytest.fixture
def affnet_config():
    return {"base_url": f"http://127.0.0.1:{PORT}"}


@pytest.fixture
def chrome():
    driver = start_chrome()
    yield driver
    driver.quit()


def _blocked(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_no_page_of_any_role_breaks_its_content_security_policy(chrome, affnet_app, people):
    ids = _affiliate_ids(people)
    with live_server(affnet_app, PORT) as base:
        walk = Walk(chrome, base)
        blocked = {}
        for path in ("/login", "/signup", "/forgot"):
            walk.go(path)
            blocked[path] = _blocked(chrome)
        for email, pages in PAGES_OF_ACCOUNT.items():
            chrome.delete_all_cookies()
            walk.go("/login")
            walk.fill(email=email, password=PASSWORD)
            walk.press("submit")
            assert "/login" not in chrome.current_url, walk.text()[:300]
            for method, path in pages:
                if method == "GET" and ".csv" not in path:
                    walk.go(path.format(**ids))
                    blocked[path] = _blocked(chrome)
            walk.go("/account/two-factor")
        walk.press("start-submit")  # the operator starts two-factor log-in: the QR code and its copy button
        assert chrome.find_elements("css selector", "svg.qr")
        chrome.find_element("css selector", "button[data-copy='two-factor-key']").click()
        blocked["the QR code"] = _blocked(chrome)
        assert {path: found for path, found in blocked.items() if found} == {}

        # the check itself sees a violation: an inline script put on the page is blocked and logged
        chrome.execute_script("var s = document.createElement('script'); s.text = '1'; document.body.appendChild(s);")
        assert _blocked(chrome)
