"""A real headless Chromium for the page tests (Debian's ``chromium`` and ``chromium-driver``, through
Selenium; nothing is downloaded), and ``Walk``: open pages, fill and press forms, and save every page named
as a screenshot (desktop and 375 px wide, English and Spanish) under ``build/screenshots/``, checked by
axe-core (no serious or critical fault) and for sideways scrolling at 375 px."""

import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
AXE = (ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js").read_text()
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextmanager
def live_server(app, port: int):
    """The app served on 127.0.0.1:``port`` by werkzeug in a thread, for a browser; yields its address."""
    from werkzeug.serving import make_server

    live = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        live.shutdown()


def start_chrome():
    """Chromium for one test (skipped without it, except in CI where it must be there)."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium: apt-get install chromium chromium-driver")
    os.environ["SE_OFFLINE"] = "true"  # Selenium must never fetch a browser or a driver of its own
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Walk:
    def __init__(self, driver, base):
        self.driver, self.base = driver, base
        self.shots = 0
        self.faults: dict[str, list[str]] = {}

    def go(self, path: str, name: str | None = None):
        """Open a page; with a name, save it in Spanish and English, desktop and phone, and check it with axe."""
        if name:
            self.capture(name, path)
        self.driver.get(self.base + path)

    def capture(self, name: str, path: str):
        SHOTS.mkdir(parents=True, exist_ok=True)
        for language in ("es", "en"):  # English last: the walk goes on in English
            self.driver.get(self.base + path + ("&" if "?" in path else "?") + f"lang={language}")
            if language == "en":
                found = _axe_faults(self.driver)
                if found:
                    self.faults[name] = found
            for label, width in (("desktop", 1280), ("phone", 375)):
                self.driver.set_window_size(width, 900)
                self.driver.save_screenshot(str(SHOTS / f"{name}-{language}-{label}.png"))
                self.shots += 1
                if label == "phone":
                    wide = self.driver.execute_script("return document.documentElement.scrollWidth")
                    if wide > width + 1:
                        culprits = self.driver.execute_script(
                            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect()"
                            ".right > arguments[0] + 1 && !e.closest('.scroll table'))"
                            ".slice(0, 4).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().width))",
                            width,
                        )
                        self.faults.setdefault(name, []).append(f"{language}: {wide} px wide at {width} px: {culprits}")
            self.driver.set_window_size(1280, 900)

    def fill(self, **fields):
        from selenium.webdriver.common.by import By

        for name, value in fields.items():
            element = self.driver.find_element(By.NAME, name)
            element.clear()
            element.send_keys(value)

    def select(self, **fields):
        """Choose an option of each named <select> by its value."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        for name, value in fields.items():
            Select(self.driver.find_element(By.NAME, name)).select_by_value(value)

    def press(self, name: str, by: str = "name"):
        """Press a form's button (``name``, or with ``by="xpath"`` an XPath such as
        ``//button[normalize-space()='Approve']``) and wait for the page it leads to."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.expected_conditions import element_to_be_clickable
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.driver.find_element(By.TAG_NAME, "html")

        def left(_driver) -> bool:
            """Whether the page of the click is gone. Chromium reports a node of a replaced page either as
            stale or as "does not belong to the document": both mean the next page is there."""
            try:
                page.is_enabled()
            except WebDriverException:
                return True
            return False

        for _ in range(3):  # on a busy machine the button can be swapped under the click
            try:
                WebDriverWait(self.driver, 10).until(element_to_be_clickable((by, name))).click()
                break
            except WebDriverException:
                if left(self.driver):
                    break  # the click went through
                time.sleep(0.3)
        WebDriverWait(self.driver, 15).until(left)
        WebDriverWait(self.driver, 15).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    def text(self) -> str:
        return self.driver.find_element("tag name", "body").text

    def value(self, element_id: str) -> str:
        return self.driver.find_element("id", element_id).get_attribute("value")


def _axe_faults(driver) -> list[str]:
    driver.execute_script(AXE)
    result = driver.execute_async_script(
        "const done = arguments[0]; axe.run().then(done, e => done({error: String(e)}));"
    )
    assert "error" not in result, result
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
