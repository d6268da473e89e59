"""`make bench`: the click path and the ingest path under gunicorn, against
the machine's own ceiling measured in the same run.

For SQLite and (when reachable) PostgreSQL it starts affnet as `affnet serve`
runs it (gunicorn gthread, 2 workers x 4 threads, plus the worker, which
sends each event's postback to the fake tracker of ``bench/tracker.py``),
drives `/r` and `/api/ingest/conversion` with wrk on loopback, then loads 1
million clicks and measures both paths again. The ceiling is a bare WSGI app that
answers the same 302 with a cookie, under the same gunicorn settings.
Everything is bounded: fixed durations, throwaway databases, every process
stopped at the end.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from affnet.testing import free_port
from tracker import Tracker  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# --worker-connections 16: with 32 keep-alive connections opened at once, one gthread worker would
# otherwise accept them all and leave the other idle (seen here for the ceiling and affnet alike).
GUNICORN = [
    PYTHON,
    "-m",
    "gunicorn",
    "--workers",
    "2",
    "--threads",
    "4",
    "--worker-class",
    "gthread",
    "--worker-connections",
    "16",
    "--log-level",
    "warning",
    "--no-control-socket",
]
POSTGRES = os.environ.get("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"

INGEST_LUA = """
-- each wrk thread has its own Lua state: setup() gives it a number (the global tid), so that every
-- request of the run is a new payment (a repeat would be answered as a duplicate and cost less)
local counter = 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) prefix = args[1] .. "-" .. tostring(tid) end
function request()
  counter = counter + 1
  local body = '{"click_id":"%(click_id)s","user_ref":"cus_' .. prefix .. '-' .. counter ..
    '","event":"sale","external_payment_id":"pi_' .. prefix .. '-' .. counter ..
    '","gross_amount":29.0,"currency":"USD","is_first_payment":true}'
  return wrk.format("POST", "/api/ingest/conversion",
    {["Content-Type"] = "application/json", ["X-Offer-Key"] = "%(key)s"}, body)
end
"""


def wait_for(port: int, path: str = "/", seconds: float = 30) -> None:
    """Until the server on ``port`` answers anything (redirects are not followed)."""
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise RuntimeError(f"port {port} did not answer within {seconds} s")


def wrk(url: str, duration: int, connections: int, script: str | None = None, args=(), headers=()) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    command.append(url)
    if args:
        command += ["--", *args]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": errors.group(1).strip() if errors else "",
    }


class Deployment:
    """affnet on one database: seeded, served by gunicorn, with its worker."""

    def __init__(self, name: str, url: str, workdir: Path, tracker_url: str, plugins: list[str]):
        self.name, self.url, self.workdir = name, url, workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            "AFFNET_DATABASE_URL": url,
            "AFFNET_INSTANCE_PATH": str(workdir / "instance"),
            "AFFNET_LOG_LEVEL": "INFO",
            "AFFNET_INGEST_RATE_LIMIT": "10000000 per minute",
            "AFFNET_DELIVERIES_ALLOW_PRIVATE_TARGETS": "true",
            "AFFNET_PLUGINS_ENABLED": ",".join(plugins),
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("AFFNET_CONFIG", None)
        self.tracker_url = tracker_url
        self.processes: list[subprocess.Popen] = []

    def affnet(self, *args) -> str:
        return subprocess.run(
            [PYTHON, "-m", "affnet", *args], env=self.env, cwd=self.workdir, check=True, capture_output=True, text=True
        ).stdout

    def seed(self) -> None:
        self.affnet("init", "--json")
        seeded = subprocess.run(
            [PYTHON, str(ROOT / "bench" / "seed.py"), self.tracker_url],
            env=self.env,
            cwd=self.workdir,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        self.__dict__.update(json.loads(seeded))

    def start(self) -> None:
        # the access log (one line per request, as an operator runs it) goes to a file, as journald would take it
        log = open(self.workdir / "affnet.log", "ab")
        self.processes.append(
            subprocess.Popen(
                GUNICORN + ["--bind", f"127.0.0.1:{self.port}", "affnet.wsgi:app"],
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
                stderr=log,
            )
        )
        log.close()
        self.processes.append(
            subprocess.Popen(
                [PYTHON, "-m", "affnet", "worker"],
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(self.port, "/healthz")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def count(self, what: str) -> int:
        """``events`` recorded, or deliveries ``pending``."""
        return int(
            subprocess.run(
                [PYTHON, str(ROOT / "bench" / "seed.py"), f"--count-{what}"],
                env=self.env,
                cwd=self.workdir,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )

    def drain(self, seconds: float = 120) -> float:
        """Wait until the worker has sent every delivery (at most ``seconds``),
        so that the next measurement does not share the machine with it."""
        started = time.monotonic()
        while self.count("pending") and time.monotonic() - started < seconds:
            time.sleep(0.5)
        return time.monotonic() - started

    def load_clicks(self, count: int) -> float:
        started = time.monotonic()
        subprocess.run(
            [PYTHON, str(ROOT / "bench" / "seed.py"), "--clicks", str(count), self.ref],
            env=self.env,
            cwd=self.workdir,
            check=True,
        )
        return time.monotonic() - started


WARM_UP_SECONDS = 2  # every measurement follows this much of the same load, not counted


def measure(deployment: Deployment, options, lua: Path) -> dict:
    base = f"http://127.0.0.1:{deployment.port}"
    results = {}
    if "click" in options.paths:
        click_url = f"{base}/r?ref={deployment.ref}&{options.link_query}"
        wrk(click_url, WARM_UP_SECONDS, options.connections, headers=[f"User-Agent: {USER_AGENT}"])
        results["click"] = wrk(click_url, options.duration, options.connections, headers=[f"User-Agent: {USER_AGENT}"])
    if "ingest" in options.paths:
        wrk(base, WARM_UP_SECONDS, options.connections, script=str(lua), args=[uuid.uuid4().hex[:8]])
        before = deployment.count("events")
        results["ingest"] = wrk(
            base, options.duration, options.connections, script=str(lua), args=[uuid.uuid4().hex[:8]]
        )
        recorded = deployment.count("events") - before
        # every request is a new event; requests still in flight when wrk stops may add a few more
        if not results["ingest"]["requests"] <= recorded <= results["ingest"]["requests"] + options.connections:
            results["ingest"]["errors"] += (
                f" {recorded:,} events recorded for {results['ingest']['requests']:,} requests"
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--growth-clicks", type=int, default=1_000_000, help="0: no growth measurement")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--paths", default="click,ingest", help="which paths to measure (click, ingest)")
    parser.add_argument(
        "--link-query", default="s1=bench&fbclid=IwAR123", help="the tracking link's parameters besides ref"
    )
    options = parser.parse_args()
    options.paths = options.paths.split(",")
    if not shutil.which("wrk"):
        print("wrk is missing: `apt-get install wrk` (Debian's package) and run again", file=sys.stderr)
        return 2
    from importlib.metadata import entry_points

    plugins = [ep.name for ep in entry_points(group="affnet") if ep.name == "keitaro"]

    tracker = Tracker()  # the affiliates' tracker: answers every postback 200, in a process of its own
    tracker_url = f"{tracker.base}/postback"

    work = Path(tempfile.mkdtemp(prefix="affnet-bench-"))
    results, started = {}, time.monotonic()
    ceiling_port = free_port()
    ceiling = subprocess.Popen(
        GUNICORN + ["--bind", f"127.0.0.1:{ceiling_port}", "bench.bare_app:app"], cwd=ROOT, start_new_session=True
    )
    databases = [] if options.no_sqlite else [("SQLite", f"sqlite:///{work}/sqlite/affnet.db")]
    schema = None
    if not options.no_postgres:
        try:
            import psycopg2

            connection = psycopg2.connect(POSTGRES, connect_timeout=3)
            connection.autocommit = True
            schema = f"affnet_bench_{os.getpid()}"
            connection.cursor().execute(f"CREATE SCHEMA {schema}")
            databases.append(("PostgreSQL", f"{POSTGRES}?options=-csearch_path%3D{schema}"))
        except Exception as error:  # noqa: BLE001
            print(f"PostgreSQL skipped: {error}".strip(), file=sys.stderr)
    try:
        wait_for(ceiling_port)
        print(f"measuring the ceiling (bare WSGI app, {options.connections} connections)...", flush=True)
        wrk(
            f"http://127.0.0.1:{ceiling_port}/r?ref=x",
            WARM_UP_SECONDS,
            options.connections,
            headers=[f"User-Agent: {USER_AGENT}"],
        )
        results["ceiling"] = wrk(
            f"http://127.0.0.1:{ceiling_port}/r?ref=x",
            options.duration,
            options.connections,
            headers=[f"User-Agent: {USER_AGENT}"],
        )
        for name, url in databases:
            folder = work / name.lower()
            folder.mkdir()
            deployment = Deployment(name, url, folder, tracker_url, plugins)
            deployment.seed()
            lua = folder / "ingest.lua"
            lua.write_text(INGEST_LUA % {"click_id": deployment.click_id, "key": deployment.offer_key})
            deployment.start()
            try:
                print(f"{name}: click and ingest paths...", flush=True)
                results[name] = measure(deployment, options, lua)
                results[name]["drain_seconds"] = deployment.drain()
            finally:
                deployment.stop()
            if not options.growth_clicks:
                continue
            print(f"{name}: loading {options.growth_clicks:,} clicks...", flush=True)
            load_seconds = deployment.load_clicks(options.growth_clicks)
            deployment.start()
            try:
                print(f"{name}: again with {options.growth_clicks:,} clicks in the database...", flush=True)
                results[f"{name}+growth"] = measure(deployment, options, lua)
                results[f"{name}+growth"]["load_seconds"] = load_seconds
                results[f"{name}+growth"]["drain_seconds"] = deployment.drain()
            finally:
                deployment.stop()
    finally:
        os.killpg(ceiling.pid, signal.SIGTERM)
        ceiling.wait(timeout=20)
        postbacks = tracker.count()
        tracker.stop()
        if schema:
            connection.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(work, ignore_errors=True)
    report(results, options, time.monotonic() - started, postbacks)
    return 0


def report(results: dict, options, seconds: float, postbacks: int) -> None:
    ceiling = results["ceiling"]
    print()
    print("| path | database | req/s | p50 ms | p99 ms | ratio to ceiling | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| ceiling: bare WSGI 302 + cookie | none | {ceiling['rps']:,.0f} | {ceiling['p50']:.2f} | "
        f"{ceiling['p99']:.2f} | 100% | {ceiling['errors'] or '-'} |"
    )
    for name, measured in results.items():
        if name == "ceiling":
            continue
        for path in [path for path in ("click", "ingest") if path in measured]:
            row = measured[path]
            label = "`GET /r`" if path == "click" else "`POST /api/ingest/conversion`"
            problems = (
                ", ".join(filter(None, [f"{row['non_2xx']} non-2xx/3xx" if row["non_2xx"] else "", row["errors"]]))
                or "-"
            )
            print(
                f"| {label} | {name.replace('+growth', f' + {options.growth_clicks:,} clicks')} | "
                f"{row['rps']:,.0f} | {row['p50']:.2f} | {row['p99']:.2f} | {row['rps'] / ceiling['rps']:.0%} | "
                f"{problems} |"
            )
    for name in [key for key in results if key.endswith("+growth")]:
        base = results[name.replace("+growth", "")]
        grown = results[name]
        kept = " and ".join(
            f"{'the click path' if path == 'click' else 'ingest'} keeps {grown[path]['rps'] / base[path]['rps']:.0%}"
            for path in options.paths
        )
        print(
            f"{name.replace('+growth', '')}: with {options.growth_clicks:,} more clicks "
            f"(loaded in {grown['load_seconds']:.0f} s) {kept} of its speed"
        )
    if "ingest" in options.paths:
        drains = ", ".join(
            f"{name.replace('+growth', ' + clicks')} {measured['drain_seconds']:.1f} s"
            for name, measured in results.items()
            if "drain_seconds" in measured
        )
        print(f"the worker had sent every postback of an ingest run this long after it ended: {drains}")
    print(
        f"{postbacks:,} postbacks received; {options.connections} connections, {options.duration} s per "
        f"measurement; the whole run took {seconds:.0f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
