"""``GET /api/openapi.json`` is the contract of every JSON route, and cannot drift.

Every route under ``/api/``, ``/hooks/`` and ``/healthz`` of the app (Flask's
routes, the ingest API's calls and ``/r``, both answered in front of Flask)
is in the document with its methods, and the document names nothing the app
does not answer: with the bundled plugins enabled and with none.
"""

import configparser
import json
import logging
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from affnet.web import api
from affnet.web.openapi import build_document

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "head", "post", "put", "patch", "delete")
JSON_PREFIXES = ("/api/", "/hooks/", "/healthz")


def bundled_plugins() -> list[str]:
    """The entry point names of the plugins shipped in plugins/."""
    names = []
    for setup in sorted(ROOT.glob("plugins/*/setup.cfg")):
        config = configparser.ConfigParser()
        config.read(setup)
        names += [line.split("=")[0].strip() for line in config["options.entry_points"]["affnet"].split("\n") if line]
    return names


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_operations(app) -> set[tuple[str, str]]:
    """(path, method) of every JSON route the app answers."""
    found = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(JSON_PREFIXES)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    client = app.test_client()
    for path in [*(f"{api.PREFIX}{call}" for call in api.CALLS), "/r"]:  # answered in front of Flask
        found |= {(path, method) for method in METHODS if client.open(path, method=method.upper()).status_code != 405}
    return found


def document_operations(document) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item if method in METHODS}


@pytest.fixture(params=["no plugins", "bundled plugins"])
def affnet_config(request):
    return {"plugins.enabled": bundled_plugins() if request.param == "bundled plugins" else []}


def test_there_are_bundled_plugins_with_routes_to_check():
    assert "stripe_ingest" in bundled_plugins()


def test_every_json_route_is_in_the_document_with_its_methods_and_nothing_else(affnet_app, affnet_client):
    document = affnet_client.get("/api/openapi.json").get_json()
    in_app, in_document = app_operations(affnet_app), document_operations(document)
    assert in_app - in_document == set(), "routes the document does not describe"
    assert in_document - in_app == set(), "operations the document describes and the app does not answer"
    if affnet_app.extensions["affnet"].settings["plugins.enabled"]:
        assert ("/hooks/stripe/{offer_slug}", "post") in in_document


def test_the_document_is_valid_openapi_3_1(affnet_client):
    document = affnet_client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_the_document_names_the_networks_base_url_as_its_server(affnet_client, affnet_settings):
    answer = affnet_client.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json()["servers"] == [{"url": affnet_settings["base_url"].rstrip("/")}]


def test_every_error_answer_is_described_as_the_error_body(affnet_client):
    document = affnet_client.get("/api/openapi.json").get_json()
    responses = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith("4") or path == "/r" or status == "414":  # 414: the server's, before affnet
                    continue
                response = responses[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"


class _Plugin:
    def __init__(self, paths):
        self.paths = paths

    from affnet import hookimpl

    @hookimpl
    def openapi_paths(self):
        return self.paths


def _manager(*plugins):
    from affnet.plugins.manager import get_plugin_manager

    pm = get_plugin_manager([], load_entrypoints=False)
    for n, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{n}")
    return pm


def test_a_plugin_cannot_describe_a_path_outside_hooks_or_one_described_already(caplog):
    own = {"post": {"responses": {"204": {"description": "ok"}}}}
    plugin = _Plugin(
        {"/api/ingest/conversion": own, "/r": own, "/hooks/mine/{slug}": own, "/hooks/stripe/{offer_slug}": own}
    )
    first = _Plugin({"/hooks/stripe/{offer_slug}": {"get": {"responses": {"200": {"description": "first"}}}}})
    with caplog.at_level(logging.ERROR, "affnet.plugins"):
        document = build_document(_manager(first, plugin), "https://net.example/")
    paths = document["paths"]
    assert paths["/hooks/mine/{slug}"] == own
    assert paths["/hooks/stripe/{offer_slug}"]["get"]["responses"]["200"]["description"] == "first"
    assert "requestBody" in paths["/api/ingest/conversion"]["post"], "the core's description stands"
    assert "post" not in paths["/r"]
    assert len(caplog.records) == 3


def test_a_plugin_that_fails_in_openapi_paths_leaves_the_document_whole(caplog):
    class Broken:
        from affnet import hookimpl

        @hookimpl
        def openapi_paths(self):
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, "affnet.plugins"):
        document = build_document(_manager(Broken()), "https://net.example")
    assert "/api/ingest/conversion" in document["paths"] and "openapi_paths" in caplog.text
    validate(document)


def test_the_documented_currencies_are_the_ones_the_ingest_api_takes():
    from affnet.core.earnings.money import _MINOR_UNITS

    document = build_document(_manager(), "https://net.example")
    currency = document["components"]["schemas"]["ConversionCall"]["properties"]["currency"]
    assert currency["enum"] == sorted(_MINOR_UNITS)


@pytest.mark.parametrize("path", ["/api/affiliate/stats-api", "/api/affiliate/report"])
def test_a_query_string_that_is_not_utf8_answers_a_documented_400(affnet_app, affnet_client, path):
    from werkzeug.test import EnvironBuilder

    document = affnet_client.get("/api/openapi.json").get_json()
    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = "token=\xff"  # the byte 0xff, as a WSGI server hands it over (latin-1)
    answered = []
    body = b"".join(affnet_app(environ, lambda status, headers: answered.append(status)))
    assert answered == ["400 BAD REQUEST"] and set(json.loads(body)) == {"error", "fields"}
    assert "400" in document["paths"][path]["get"]["responses"]
