"""Fixtures of the fb_capi tests: a fake Graph API on 127.0.0.1 and the
plugin enabled by its entry point name, with its ``[plugin.fb_capi]``
section pointing at the fake."""

import pytest

from affnet.config import Settings
from fb_capi_fake_graph import VALID_TOKEN, start_fake_graph


@pytest.fixture
def fake_graph():
    graph, server = start_fake_graph(tokens={VALID_TOKEN})
    yield graph
    server.shutdown()
    server.server_close()


@pytest.fixture
def affnet_config():
    return {"plugins.enabled": ["fb_capi"]}


@pytest.fixture
def affnet_settings(affnet_settings, fake_graph):
    """The test settings plus ``[plugin.fb_capi] graph_base_url`` = the fake."""
    sections = {"fb_capi": {"graph_base_url": fake_graph.base_url}}
    return Settings(affnet_settings.as_dict(), sections, affnet_settings.source)
