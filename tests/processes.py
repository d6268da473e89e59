"""Real processes for tests: started in their own process groups, always
stopped, their output kept for the failure message."""

import os
import signal
import subprocess
import time


class Processes:
    """Starts processes in their own process groups and kills every one of them."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name, args, env):
        with open(self.tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                args, env=env, cwd=self.tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append((name, process))
        return process

    def stop_all(self):
        for _, process in self.running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def start_gunicorn(self, name, env, threads=4) -> str:
        """``affnet.wsgi:app`` under one gunicorn worker on a free port; returns its address."""
        import sys

        from affnet.testing import free_port

        port = free_port()
        control = own_control_socket(self.tmp_path / f"{name}.ctl")
        args = ["--workers", "1", "--threads", str(threads), "-b", f"127.0.0.1:{port}", *control, "affnet.wsgi:app"]
        self.start(name, [sys.executable, "-m", "gunicorn", *args], env)
        return f"http://127.0.0.1:{port}"

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n" + (self.tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
            for name, _ in self.running
        )


class Instance:
    """A new SQLite instance in ``folder``, driven as an operator drives one: by ``python -m affnet``
    commands (``affnet``), with the environment they share (``env``), served on ``port``."""

    def __init__(self, folder, log_level: str = "WARNING"):
        import sys

        from affnet.testing import free_port

        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "affnet"]
        self.env = {name: value for name, value in os.environ.items() if name != "AFFNET_CONFIG"}
        self.env.update(
            AFFNET_DATABASE_URL=f"sqlite:///{folder}/affnet.db",
            AFFNET_INSTANCE_PATH=str(folder / "instance"),
            AFFNET_SERVER_PORT=str(self.port),
            AFFNET_BASE_URL=self.base,
            AFFNET_LOG_LEVEL=log_level,
        )

    def json(self, *args) -> dict:
        """Run ``affnet ARGS --json``; returns what it printed."""
        import json

        done = subprocess.run(
            [*self.command, *args, "--json"], env=self.env, cwd=self.folder, check=True, capture_output=True
        )
        return json.loads(done.stdout)


def own_control_socket(path) -> list[str]:
    """gunicorn 25.1+ opens a control socket at one default path per user:
    two instances on one host each need their own."""
    import gunicorn

    return ["--control-socket", str(path)] if tuple(gunicorn.version_info[:2]) >= (25, 1) else []


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def wait_until_healthy(servers, seconds=30):
    """Wait until every server's ``/healthz`` answers 200."""
    import requests

    def healthy(server):
        try:
            return requests.get(server + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or too busy starting to answer in time
            return False

    wait_until(lambda: all(healthy(server) for server in servers), time.monotonic() + seconds, "the servers' /healthz")


def wait_until(condition, deadline, what):
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
