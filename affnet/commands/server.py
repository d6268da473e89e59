"""Running affnet: the development server, gunicorn with a worker, the worker alone."""

import os
import signal
import subprocess
import sys

import click

from .common import JSON_OPTION, emit

STOP_SECONDS = 60


@click.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.pass_obj
def run(ctx, host, port):
    """The development server (one process, reloads nothing; no worker)."""
    settings = ctx.settings
    app = _app(ctx)
    from ..logs import quiet_request_handler

    app.run(
        host=host or settings["server.host"],
        port=port or settings["server.port"],
        threaded=True,
        request_handler=quiet_request_handler(),
    )


@click.command()
@click.pass_obj
def start(ctx):
    """A first look (what `make run` does): make what is missing, as `affnet
    init` does, serve, as `affnet serve` does, and end with where to log in."""
    from .admin import prepare

    made = prepare(ctx.settings, progress=lambda line: None)
    settings = ctx.settings
    base = f"http://{settings['server.host']}:{settings['server.port']}"
    if "admin" in made:
        who = f"  as {made['admin']['email']}  password {made['admin']['password']}  (shown this once: keep it)"
    else:
        who = "  as admin@localhost (lost the password? .venv/bin/affnet users reset-password admin@localhost)"
    _serve(ctx, no_worker=False, ready=lambda: click.echo(f"\naffnet is ready: log in at {base}/login\n{who}"))


@click.command()
@click.option("--no-worker", is_flag=True, help="Serve only; run `affnet worker` elsewhere.")
@click.pass_obj
def serve(ctx, no_worker):
    """gunicorn with the configured workers, plus the background worker."""
    _serve(ctx, no_worker)


def _when_answering(url: str, then, seconds: float = 30, settle: float = 2) -> None:
    """Call ``then`` once ``url`` answers (from a thread: the server is starting meanwhile)."""
    import threading
    import time
    import urllib.request

    def wait():
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(settle)  # the lines the start itself logs (workers booting, the probe) come first
        then()

    threading.Thread(target=wait, daemon=True).start()


def _serve(ctx, no_worker: bool, ready=None) -> None:
    settings = ctx.settings
    ctx.services()  # a wrong plugin section or missing keys: one line now, not a traceback per process
    workers = settings["server.workers"] or os.cpu_count() or 2
    env = dict(os.environ)
    if ctx.config_path:
        env["AFFNET_CONFIG"] = os.path.abspath(ctx.config_path)
    bind = f"{settings['server.host']}:{settings['server.port']}"
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--threads",
            str(settings["server.threads"]),
            "--worker-class",
            "gthread",
            "--bind",
            bind,
            "--graceful-timeout",
            "20",
            "--no-control-socket",
            "affnet.wsgi:app",
        ],
        env=env,
    )
    processes = [web]
    if not no_worker:
        processes.append(subprocess.Popen([sys.executable, "-m", "affnet", "worker"], env=env))
    click.echo(f"affnet is serving on http://{bind}  (Ctrl+C stops it)")
    if ready is not None:
        _when_answering(f"http://{bind}/healthz", ready)

    def stop(signum, _frame):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(process.poll() is None for process in processes):
            try:
                processes[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    finally:
        stop(signal.SIGTERM, None)
        for process in processes:  # gunicorn's graceful timeout is 20 s; the worker finishes one batch
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                click.echo(f"process {process.pid} did not stop within {STOP_SECONDS} s: killed", err=True)
                process.kill()
                process.wait()


@click.command()
@click.option("--once", is_flag=True, help="Run every due job once, then exit (for cron and scripts).")
@JSON_OPTION
@click.pass_obj
def worker(ctx, once, as_json):
    """Send deliveries and run periodic jobs until stopped (SIGTERM)."""
    from ..worker import Worker

    app = _app(ctx)
    services = app.extensions["affnet"]
    with app.app_context():
        runner = Worker(services, app=app)
        if once:
            counts = runner.run_once()
            emit(
                counts,
                as_json,
                "deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none due"),
            )
            return
        runner.run()


def _app(ctx):
    """The app, or one line saying why it cannot start (a plugin's section, the keys)."""
    from ..app import create_app
    from ..core.storage.secrets import SecretError
    from ..plugins.manager import PluginError

    try:
        return create_app(ctx.settings)
    except (SecretError, PluginError) as error:
        raise click.ClickException(str(error)) from None


def register(cli):
    for command in (run, start, serve, worker):
        cli.add_command(command)
