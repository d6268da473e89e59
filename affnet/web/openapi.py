"""``GET /api/openapi.json``: the machine-readable contract of the JSON routes.

The core's document is ``openapi.json`` next to this module; each enabled
plugin adds the path items of its own routes (``openapi_paths``). A plugin's
path must lie under ``/hooks/`` (where its routes are mounted) and must not
be in the document already, so no plugin can change how the core's routes
are described. The document names the network's ``base_url`` as its server.
"""

import copy
import json
import logging
from pathlib import Path

from flask import Blueprint, current_app, jsonify

from ..plugins.manager import results_by_plugin

log = logging.getLogger("affnet.plugins")
CORE_DOCUMENT = Path(__file__).with_name("openapi.json")

bp = Blueprint("openapi", __name__)


def core_document() -> dict:
    return json.loads(CORE_DOCUMENT.read_text())


def build_document(pm, base_url: str) -> dict:
    """The core's document with the enabled plugins' paths and ``base_url`` as its server."""
    document = core_document()
    document["servers"] = [{"url": base_url.rstrip("/") or "/"}]
    paths = document["paths"]
    for plugin, given in results_by_plugin(pm, "openapi_paths"):
        if not isinstance(given, dict):
            log.error("plugin %s: openapi_paths must return a dict of path items (got %r)", plugin, given)
            continue
        for path, item in given.items():
            if not isinstance(path, str) or not path.startswith("/hooks/") or not isinstance(item, dict):
                log.error("plugin %s: openapi path %r is not under /hooks/ or not a path item", plugin, path)
            elif path in paths:
                log.error("plugin %s: openapi path %r is in the document already", plugin, path)
            else:
                paths[path] = copy.deepcopy(item)
    return document


@bp.get("/api/openapi.json")
def openapi_document():
    return jsonify(current_app.extensions["affnet_openapi"])


def init_app(app, services) -> None:
    app.extensions["affnet_openapi"] = build_document(services.pm, services.settings["base_url"])
    app.register_blueprint(bp)
