"""Logs are structured: one access line per request, with the click id or the event's txid."""

import logging

import pytest

from affnet.logs import BatchedLineHandler
from affnet.testing import click, click_id_of, ingest, sale_body


def access_lines(capfd) -> list[str]:
    for handler in logging.getLogger("affnet.access").handlers:
        if isinstance(handler, BatchedLineHandler):
            handler.flush()
    return [line for line in capfd.readouterr().err.splitlines() if " affnet.access " in line]


@pytest.mark.parametrize("affnet_config", [{"log_level": "INFO"}])
def test_each_request_logs_one_line_with_its_click_id_or_txid(affnet_client, affnet_network, capfd):
    access_lines(capfd)  # what came before
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    txid = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id)).get_json()["txid"]
    lines = access_lines(capfd)
    assert len(lines) == 2
    assert "method=GET path=/r status=302" in lines[0] and f"click_id={click_id}" in lines[0]
    assert "method=POST path=/api/ingest/conversion status=201" in lines[1] and f"txid={txid}" in lines[1]


@pytest.mark.parametrize("affnet_config", [{"log_level": "INFO"}])
def test_an_unknown_ingest_path_is_logged_escaped_on_one_line(affnet_client, affnet_network, capfd):
    access_lines(capfd)  # what came before
    affnet_client.post("/api/ingest/x%0Afake=line", data=b"{}", headers={"X-Offer-Key": affnet_network.offer_key})
    lines = access_lines(capfd)
    assert len(lines) == 1 and "status=404" in lines[0] and "path='/api/ingest/x\\nfake=line'" in lines[0]


@pytest.mark.parametrize("affnet_config", [{"log_level": "INFO"}])
@pytest.mark.parametrize(
    "url, shown",
    [
        ("/healthz?ref=x%0Afake=line", "ref='x\\nfake=line'"),
        ("/healthz?ref=x%0D%0A2026-01-01%2000:00:00,000%20INFO", "ref='x\\r\\n2026-01-01 00:00:00,000 INFO'"),
        ("/no-such-page%0D%0Afake=line", "path='/no-such-page\\r\\nfake=line'"),
        ("/no-such-page%E2%80%A8x", "path="),  # U+2028, a line separator to some log viewers
        ("/healthz?ref=a%20status=200", "ref='a status=200'"),
    ],
)
def test_a_path_or_ref_with_control_characters_is_logged_escaped_on_one_line(affnet_client, capfd, url, shown):
    access_lines(capfd)  # what came before
    affnet_client.get(url)
    lines = access_lines(capfd)
    assert len(lines) == 1 and shown in lines[0], lines
    assert lines[0].isprintable(), "no control or line-separator character reaches the log raw"


@pytest.mark.parametrize("affnet_config", [{"log_level": "INFO"}])
def test_a_reset_links_token_is_logged_as_stars(affnet_client, affnet_network, capfd):
    from affnet.core.network import users

    token = users.reset_link_token(affnet_network.affiliate)
    access_lines(capfd)  # what came before
    affnet_client.get(f"/reset/{token}")
    lines = access_lines(capfd)
    assert len(lines) == 1 and "path=/reset/*** status=200" in lines[0], lines
    assert token not in lines[0] and token[3:15] not in lines[0]
