"""The click spool: durable before the redirect, loaded in batches, never lost."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection

import pytest

from affnet.core.storage.models import Click
from affnet.core.clicks.spool import ClickSpool
from affnet.testing import click_id_of, free_port


def spool_files(app):
    return sorted(p.name for p in app.extensions["affnet"].spool.directory.iterdir())


def test_a_click_is_in_the_spool_file_before_the_redirect_is_answered(affnet_app, affnet_network):
    client = affnet_app.test_client()
    response = client.get(f"/r?ref={affnet_network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    spool = affnet_app.extensions["affnet"].spool
    written = b"".join(path.read_bytes() for path in spool.directory.iterdir())
    assert click_id_of(response).encode() in written
    assert spool.flush() == 1
    assert Click.get().click_id == click_id_of(response)
    assert spool_files(affnet_app) == [], "a loaded file is deleted"


def test_loading_the_same_clicks_twice_counts_them_once(affnet_app, affnet_network):
    client = affnet_app.test_client()
    client.get(f"/r?ref={affnet_network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    spool = affnet_app.extensions["affnet"].spool
    copy = [(path, path.read_bytes()) for path in spool.directory.iterdir()]
    spool.flush()
    for path, content in copy:  # as if a loader died after its commit, before deleting the file
        (path.parent / f"clicks-{spool.host}-999999-1-1.ready").write_bytes(content)
    spool.load_ready()
    assert Click.select().count() == 1


def test_every_field_of_a_click_is_loaded_exactly_whatever_its_characters(affnet_app, affnet_network):
    agent = 'Mozilla/5.0 "quoted", comma;\ttab\\backslash ünïcødé 😀'
    referer = "https://example.com/a?b=1&c=\"2\",3"
    client = affnet_app.test_client()
    response = client.get(
        f"/r?ref={affnet_network.ref}&s1=a%2Cb%22c&s2=%5CN&s3=line%0Anext&fbclid=x%09y",
        headers={"User-Agent": agent, "Referer": referer},
    )
    affnet_app.extensions["affnet"].spool.flush()
    stored = Click.get(Click.click_id == click_id_of(response))
    assert (stored.user_agent, stored.referer) == (agent, referer)
    assert (stored.s1, stored.s2, stored.s3, stored.fbclid, stored.s4) == ('a,b"c', "\\N", "line\nnext", "x\ty", None)
    assert (stored.is_unique, stored.is_bot) == (True, False)


def test_files_of_a_dead_process_are_loaded_and_a_torn_last_line_is_skipped(affnet_app, affnet_network):
    spool = affnet_app.extensions["affnet"].spool
    client = affnet_app.test_client()
    client.get(f"/r?ref={affnet_network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    spool._rotate()
    ready = next(spool.directory.iterdir())
    orphan = ready.with_name(f"clicks-{spool.host}-999999-1-1.jsonl")  # pid 999999 is not running
    ready.rename(orphan)
    with open(orphan, "ab") as handle:
        handle.write(b'{"click_id": "torn')
    other = ClickSpool(spool.directory)
    assert other.load_ready() == 1
    assert Click.select().count() == 1 and list(spool.directory.iterdir()) == []


@pytest.mark.slow
def test_no_click_answered_with_a_redirect_is_lost_when_the_web_process_is_killed(tmp_path):
    """gunicorn's worker is killed with SIGKILL in the middle of a stream of
    clicks; every click id that was answered is in the database afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "AFFNET_DATABASE_URL": f"sqlite:///{tmp_path}/affnet.db",
        "AFFNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "AFFNET_LOG_LEVEL": "WARNING",
        "AFFNET_TRACKING_SPOOL_FLUSH_MS": "60000",
        "AFFNET_PLUGINS_ENABLED": "",
    }
    env.pop("AFFNET_CONFIG", None)
    affnet = [sys.executable, "-m", "affnet"]
    subprocess.run(affnet + ["init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    ref = json.loads(
        subprocess.run(affnet + ["demo", "--json"], env=env, cwd=tmp_path, check=True, capture_output=True).stdout
    )["affiliates"][0]["ref_code"]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{port}",
            "affnet.wsgi:app",
        ],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    answered, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            connection = HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                while not stop.is_set():
                    connection.request("GET", f"/r?ref={ref}&s1=kill", headers={"User-Agent": "Mozilla/5.0"})
                    response = connection.getresponse()
                    response.read()
                    if response.status == 302:
                        answered.append(response.getheader("Location").rsplit("click_id=", 1)[1])
            except OSError:
                time.sleep(0.05)
            finally:
                connection.close()

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                probe.request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
            finally:
                probe.close()
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        [thread.start() for thread in threads]
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker_pids = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        for pid in worker_pids:
            os.kill(int(pid), signal.SIGKILL)
        killed_at = len(answered)
        time.sleep(1.5)  # gunicorn starts a new worker; clicks go on
        stop.set()
        [thread.join() for thread in threads]
    finally:
        stop.set()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    assert killed_at >= 300 and worker_pids, "the worker was killed in the middle of the traffic"
    subprocess.run(affnet + ["worker", "--once"], env=env, cwd=tmp_path, check=True, capture_output=True)
    import sqlite3

    stored = {row[0] for row in sqlite3.connect(tmp_path / "affnet.db").execute("SELECT click_id FROM click")}
    missing = [click_id for click_id in answered if click_id not in stored]
    assert not missing, f"{len(missing)} of {len(answered)} answered clicks were lost"


def test_a_conversion_right_behind_its_click_on_another_web_process_attributes(affnet_app, affnet_network):
    from affnet.testing import ingest, sale_body

    client = affnet_app.test_client()
    response = client.get(f"/r?ref={affnet_network.ref}", headers={"User-Agent": "Mozilla/5.0"})
    spool = affnet_app.extensions["affnet"].spool
    spool._rotate()
    written = next(spool.directory.iterdir())
    # as if another, still running, web process (pid 1) had the click in its open file
    written.rename(written.with_name(f"clicks-{spool.host}-1-1-1.jsonl"))
    answer = ingest(client, affnet_network, "conversion", sale_body(click_id_of(response))).get_json()
    assert answer["attributed"] is True
    assert (spool.directory / f"clicks-{spool.host}-1-1-1.jsonl").exists(), "its owner still hands it over"
