"""The landing helper ``/static/affnet.js``: it keeps ``click_id`` from the URL
in a first-party cookie for the offer's cookie window and gives it back with
``affnet.clickId()``, so a checkout days later can still put it in Stripe's
metadata. Run in node with a minimal fake ``document`` when node is installed."""

import json
import shutil
import subprocess

import pytest

from affnet.testing import click, click_id_of

# A browser's document.cookie, reduced to what the helper touches: reading
# gives "a=1; b=2", writing "name=value; attributes" sets one cookie.
NODE_HARNESS = r"""
const vm = require("vm");
const source = require("fs").readFileSync(process.argv[2], "utf8");
function visit(jar, search, protocol, attributes) {
  const document = {
    currentScript: { getAttribute: (name) => (name in attributes ? attributes[name] : null) },
    get cookie() { return Object.entries(jar.cookies).map(([k, v]) => k + "=" + v).join("; "); },
    set cookie(line) {
      jar.writes.push(line);
      const pair = line.split(";")[0], at = pair.indexOf("=");
      jar.cookies[pair.slice(0, at)] = pair.slice(at + 1);
    },
  };
  const window = { location: { search, protocol } };
  vm.runInNewContext(source, { window, document });
  return window.affnet.clickId();
}
const scenario = JSON.parse(process.argv[3]);
const jar = { cookies: scenario.cookies || {}, writes: [] };
const ids = scenario.visits.map((v) => visit(jar, v.search, v.protocol || "https:", v.attributes || {}));
console.log(JSON.stringify({ ids, writes: jar.writes }));
"""


def served_script(client) -> str:
    with client.get("/static/affnet.js") as response:  # closing releases the served file
        assert response.status_code == 200
        assert "javascript" in response.mimetype
        return response.get_data(as_text=True)


def run_in_node(tmp_path, script: str, scenario: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the helper's behaviour in a browser-like runtime is not checked here")
    (tmp_path / "affnet.js").write_text(script)
    (tmp_path / "harness.js").write_text(NODE_HARNESS)
    done = subprocess.run(
        [node, str(tmp_path / "harness.js"), str(tmp_path / "affnet.js"), json.dumps(scenario)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_landing_helper_is_served_tiny_and_dependency_free(affnet_client):
    script = served_script(affnet_client)
    assert len(script.encode()) < 2048
    assert "import " not in script and "require(" not in script
    assert "clickId" in script


def test_click_id_from_the_url_is_kept_for_the_cookie_window_and_returned_days_later(
    affnet_client, affnet_network, tmp_path
):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    result = run_in_node(
        tmp_path,
        served_script(affnet_client),
        {
            "cookies": {"theme": "dark"},
            "visits": [
                {"search": f"?lang=en&click_id={click_id}", "attributes": {"data-cookie-days": "30"}},
                {"search": "?lang=en", "attributes": {"data-cookie-days": "30"}},
            ],
        },
    )
    assert result["ids"] == [click_id, click_id]
    assert len(result["writes"]) == 1, "a visit without a click_id writes nothing"
    cookie = result["writes"][0]
    assert cookie.startswith(f"affnet_click_id={click_id};")
    assert f"Max-Age={30 * 86400}" in cookie
    assert "Path=/" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_cookie_window_defaults_to_60_days_and_a_newer_click_wins(affnet_client, tmp_path):
    result = run_in_node(
        tmp_path,
        served_script(affnet_client),
        {
            "visits": [
                {"search": "?click_id=first_click_0001", "protocol": "http:"},
                {"search": "?click_id=second_click_002", "protocol": "http:"},
                {"search": ""},
            ]
        },
    )
    assert result["ids"] == ["first_click_0001", "second_click_002", "second_click_002"]
    assert f"Max-Age={60 * 86400}" in result["writes"][0]
    assert "Secure" not in result["writes"][0], "plain http: no Secure flag"


def test_a_click_id_that_is_not_one_is_neither_stored_nor_returned(affnet_client, tmp_path):
    result = run_in_node(
        tmp_path,
        served_script(affnet_client),
        {
            "visits": [
                {"search": "?click_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
                {"search": "?click_id=%E0%A4%A"},
                {"search": ""},
            ]
        },
    )
    assert result == {"ids": [None, None, None], "writes": []}
