"""`affnet serve` as a new user meets it: gunicorn and the worker on a fresh
instance with the demo network, driven over real HTTP."""

import os
import signal
import subprocess
import sys
import time

import pytest

from affnet.testing import free_port
import requests

from .processes import Instance


@pytest.fixture
def served(tmp_path):
    instance = Instance(tmp_path)
    instance.json("init")
    demo = instance.json("demo")
    env, affnet, port = instance.env, instance.command, instance.port
    server = subprocess.Popen(
        affnet + ["serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or too busy starting to answer within 1 s
            time.sleep(0.2)
    else:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail("affnet serve did not answer /healthz within 30 s")
    yield base, demo
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        raise


def test_a_new_user_walks_through_the_demo_over_http(served):
    base, demo = served
    ref = demo["affiliates"][0]["ref_code"]
    hit = requests.get(
        f"{base}/r",
        params={"ref": ref, "s1": "try"},
        allow_redirects=False,
        headers={"User-Agent": "Mozilla/5.0"},
        timeout=5,
    )
    assert hit.status_code == 302
    assert hit.headers["Location"].startswith("https://susurra.example/start?lang=en&click_id=")
    click_id = hit.headers["Location"].rsplit("click_id=", 1)[1]
    assert f"affnet_{ref}={click_id}" in hit.headers["Set-Cookie"]

    time.sleep(1)  # a conversion one second after its click, on whichever web process takes it
    key = {"X-Offer-Key": demo["offer_key"]}
    body = {
        "click_id": click_id,
        "user_ref": "cus_123",
        "event": "sale",
        "external_payment_id": "pi_new_123",
        "gross_amount": 29.0,
        "currency": "USD",
        "is_first_payment": True,
    }
    first = requests.post(f"{base}/api/ingest/conversion", json=body, headers=key, timeout=5)
    assert first.status_code == 201 and first.json()["payout"] == "8.70" and first.json()["attributed"]
    again = requests.post(f"{base}/api/ingest/conversion", json=body, headers=key, timeout=5)
    assert again.status_code == 200 and again.json() == {**first.json(), "duplicate": True}
    refund = requests.post(
        f"{base}/api/ingest/refund", json={"external_payment_id": "pi_new_123"}, headers=key, timeout=5
    )
    assert refund.status_code == 201 and refund.json()["payout"] == "-8.70"

    assert requests.get(f"{base}/r?ref=unknown", allow_redirects=False, timeout=5).status_code == 404
    bad = requests.post(f"{base}/api/ingest/conversion", data="{oops", headers=key, timeout=5)
    assert bad.status_code == 422 and bad.json()["error"]


def test_affnet_start_ends_with_where_to_log_in_and_the_admins_password(tmp_path):
    """What `make run` runs: on a fresh instance the last lines say where to log in, with the password that
    works there; `/` leads to the log-in page."""
    port = free_port()
    env = {
        **os.environ,
        "AFFNET_DATABASE_URL": f"sqlite:///{tmp_path}/affnet.db",
        "AFFNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "AFFNET_SERVER_PORT": str(port),
    }
    env.pop("AFFNET_CONFIG", None)
    output = tmp_path / "out.txt"
    with output.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "affnet", "start"],
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 40
        while "affnet is ready" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        lines = [line for line in output.read_text().splitlines() if line.strip()]
        assert lines[-2] == f"affnet is ready: log in at http://127.0.0.1:{port}/login", lines[-6:]
        password = lines[-1].split("password ")[1].split()[0]
        session = requests.Session()
        front = session.get(f"http://127.0.0.1:{port}/", allow_redirects=False, timeout=5)
        assert front.status_code == 302 and front.headers["Location"].endswith("/login")
        page = session.get(f"http://127.0.0.1:{port}/login", timeout=5).text
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        logged = session.post(
            f"http://127.0.0.1:{port}/login",
            allow_redirects=False,
            timeout=5,
            data={"csrf_token": token, "email": "admin@localhost", "password": password},
        )
        assert logged.status_code == 302 and logged.headers["Location"].endswith("/admin"), (
            "the operator starts on the health page"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
