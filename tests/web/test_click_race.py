"""Conversions that arrive together right after their click all find it.

In a server with several web processes, the click's spool file may have been
claimed by another process (renamed ``*.claimed-<its pid>``) that is still
inserting it, uncommitted, when a conversion naming the click looks for it.
"""

import subprocess
import sys

import pytest

from affnet.testing import click_id_of, ingest, sale_body


@pytest.fixture
def another_process():
    """A live process standing for another web process that claimed a file."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def spooled_click(client, network) -> str:
    """A click answered and spooled, not loaded yet."""
    response = client.get(f"/r?ref={network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 302
    return click_id_of(response)


def test_a_conversion_finds_its_click_in_a_file_another_process_is_loading(
    affnet_app, affnet_client, affnet_network, another_process
):
    spool = affnet_app.extensions["affnet"].spool
    click_id = spooled_click(affnet_client, affnet_network)
    ready = spool._rotate()
    ready.rename(ready.with_name(ready.name + f".claimed-{another_process}"))  # claimed, not committed

    first = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_1"))
    second = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_2"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["attributed"] is True and second.get_json()["attributed"] is True


def test_a_conversion_finds_its_click_in_a_file_still_being_written(affnet_app, affnet_client, affnet_network):
    click_id = spooled_click(affnet_client, affnet_network)
    answer = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert answer.get_json()["attributed"] is True


def test_a_click_id_that_no_click_has_reads_no_spool_file(affnet_app, affnet_client, affnet_network, monkeypatch):
    spool = affnet_app.extensions["affnet"].spool
    spooled_click(affnet_client, affnet_network)
    monkeypatch.setattr(type(spool.directory), "read_bytes", lambda self: pytest.fail(f"read {self.name}"))
    assert spool.load_click("../../etc/passwd") is False
    answer = ingest(affnet_client, affnet_network, "conversion", sale_body("not a click id"))
    assert answer.get_json()["attributed"] is False
