"""Benchmark: postbacks per second from the worker to a local tracker, against
that tracker's own ceiling measured in the same run.

A fake tracker (``bench/tracker.py``: a keep-alive HTTP/1.1 server answering
``200 Success``, in a process of its own so it does not share the
benchmark's interpreter lock) listens on 127.0.0.1. The run then measures:

1. the ceiling: ``--count`` GETs sent straight at the tracker through one
   aiohttp session, ``--parallelism`` at a time;
2. the worker: ``--count`` due postback deliveries in a throwaway database,
   sent by ``affnet.worker.Worker`` with the keitaro plugin (claiming
   batches, SSRF checks, pooled connections, bounded parallelism, one logged
   attempt per delivery), on SQLite and, when reachable, PostgreSQL;
3. the ceiling again (the figure used is the better of the two, so a busy
   machine flatters the ceiling, never the worker).

It prints each rate and worker/ceiling; the goal is a ratio of at least 0.5.
It stops by itself: after ``--count`` deliveries, or after ``--seconds`` per
measurement, whichever comes first. Everything it made is removed at the end.

    .venv/bin/python bench/deliveries.py
    .venv/bin/python bench/deliveries.py --count 2000 --databases sqlite
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta

from tracker import Tracker  # noqa: E402 - bench/ is the script's folder

DEFAULT_POSTGRES = os.environ.get("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def say(text: str) -> None:
    print(text, flush=True)


def measure_ceiling(tracker: Tracker, count: int, parallelism: int, seconds: float) -> tuple[int, float]:
    """GETs straight at the tracker through one aiohttp session, ``parallelism``
    at a time (the library the worker sends with, without affnet's checks,
    database or bookkeeping); returns (done, elapsed)."""
    import asyncio

    import aiohttp

    async def send_all() -> int:
        deadline = time.monotonic() + seconds
        slots = asyncio.Semaphore(parallelism)
        async with aiohttp.ClientSession() as session:

            async def one(n: int) -> int:
                async with slots:
                    if time.monotonic() > deadline:
                        return 0
                    async with session.get(
                        f"{tracker.base}/postback?subid=c{n}&status=sale&payout=1.00&currency=USD"
                    ) as response:
                        await response.read()
                        return 1

            return sum(await asyncio.gather(*(one(n) for n in range(count))))

    started = time.perf_counter()
    done = asyncio.run(send_all())
    return done, time.perf_counter() - started


def postgres_url() -> tuple[str | None, str]:
    import psycopg2

    try:
        psycopg2.connect(DEFAULT_POSTGRES, connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        return None, f"not reachable ({str(error).strip().splitlines()[0]})"
    schema = f"affnet_bench_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(DEFAULT_POSTGRES)
    connection.autocommit = True
    connection.cursor().execute(f"CREATE SCHEMA {schema}")
    connection.close()
    separator = "&" if "?" in DEFAULT_POSTGRES else "?"
    return f"{DEFAULT_POSTGRES}{separator}options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg2

    connection = psycopg2.connect(DEFAULT_POSTGRES)
    connection.autocommit = True
    connection.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


def measure_worker(
    database_url: str, folder: str, tracker: Tracker, count: int, parallelism: int, seconds: float
) -> tuple[int, float]:
    """Queue ``count`` postbacks and let the worker send them; returns (sent, elapsed)."""
    import affnet_keitaro.plugin as keitaro
    from affnet.app import build_services
    from affnet.config import load_settings
    from affnet.core.network import accounts
    from affnet.core import clock
    from affnet.core.storage import migrations
    from affnet.core.deliveries import setting_versions
    from affnet.core.storage.db import db
    from affnet.core.storage.models import Delivery
    from affnet.instance import init_instance
    from affnet.worker import Worker

    instance = os.path.join(folder, "instance")
    init_instance(instance)
    settings = load_settings(
        None,
        environ={},
        overrides={
            "database_url": database_url,
            "instance_path": instance,
            "log_level": "WARNING",
            "deliveries.allow_private_targets": True,
            "deliveries.parallelism": parallelism,
        },
    )
    services = build_services(settings, extra_plugins=[keitaro], load_entrypoints=False)
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
        owner, _ = accounts.create_user(f"owner-{uuid.uuid4().hex[:6]}@bench.example", "advertiser")
        offer, _ = accounts.create_offer(owner, "Bench offer", "https://landing.example/", currency="USD")
        affiliate, _ = accounts.create_user(f"aff-{uuid.uuid4().hex[:6]}@bench.example", "affiliate")
        participation = accounts.apply(affiliate, offer)
        version, _ = setting_versions.save(
            keitaro.POSTBACK,
            affiliate,
            {"url": tracker.base + "/postback?subid={clickid}&status={status}&payout={payout}&currency={currency}"},
            participation=participation,
        )
        now = clock.now() - timedelta(seconds=1)
        rows = [
            {
                "event": None,
                "kind": "postback",
                "setting": version.id,
                "payload": {"url": f"{tracker.base}/postback?subid=kt-{n}&status=sale&payout=8.70&currency=USD"},
                "next_attempt_at": now,
                "created_at": now,
            }
            for n in range(count)
        ]
        with db.atomic():
            for start in range(0, count, 500):
                Delivery.insert_many(rows[start : start + 500]).execute()
    worker = Worker(services, worker_id="bench")
    before = tracker.count()
    deadline = time.monotonic() + seconds
    timer = threading.Timer(seconds, worker.stopping.set)  # the time bound: stop after the batch in hand
    timer.daemon = True
    timer.start()
    started = time.perf_counter()
    worker._job(worker.send_deliveries)
    elapsed = time.perf_counter() - started
    timer.cancel()
    with db.connection_context():
        sent = Delivery.select().where(Delivery.status == "sent").count()
        failed = Delivery.select().where(Delivery.status != "sent").count()
    received = tracker.count() - before
    if received != sent or (failed and time.monotonic() < deadline):
        say(f"  note: {sent} sent, {failed} not sent, the tracker counted {received}")
    db.obj.close_all()
    return sent, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="Deliveries (and ceiling GETs) per measurement.")
    parser.add_argument("--parallelism", type=int, default=16, help="deliveries.parallelism and ceiling clients.")
    parser.add_argument("--seconds", type=float, default=120, help="Stop any measurement after this long.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()

    tracker = Tracker()
    folder = tempfile.mkdtemp(prefix="affnet-bench-")
    results = {}
    try:
        say(
            f"fake tracker on {tracker.base} (own process); {args.count} deliveries, parallelism {args.parallelism}, "
            f"{os.cpu_count()} cores"
        )
        measure_ceiling(tracker, min(500, args.count), args.parallelism, args.seconds)  # warm-up
        done, elapsed = measure_ceiling(tracker, args.count, args.parallelism, args.seconds)
        ceilings = [done / elapsed]
        say(f"ceiling (direct GETs, {args.parallelism} at a time): {done} in {elapsed:.2f} s = {ceilings[0]:,.0f}/s")
        for name in [item.strip() for item in args.databases.split(",") if item.strip()]:
            schema = None
            if name == "sqlite":
                url = f"sqlite:///{folder}/bench.db"
            else:
                url, schema = postgres_url()
                if url is None:
                    say(f"postgresql: skipped, {schema}")
                    continue
            try:
                sent, elapsed = measure_worker(
                    url, os.path.join(folder, name), tracker, args.count, args.parallelism, args.seconds
                )
            finally:
                if schema:
                    drop_schema(schema)
            results[name] = sent / elapsed
            say(f"worker on {name}: {sent} sent in {elapsed:.2f} s = {results[name]:,.0f}/s")
        done, elapsed = measure_ceiling(tracker, args.count, args.parallelism, args.seconds)
        ceilings.append(done / elapsed)
        say(f"ceiling again: {done} in {elapsed:.2f} s = {ceilings[1]:,.0f}/s")
        ceiling = max(ceilings)
        for name, rate in results.items():
            say(
                f"RESULT {name}: worker {rate:,.0f}/s, ceiling {ceiling:,.0f}/s, ratio {rate / ceiling:.2f} "
                f"({'meets' if rate / ceiling >= 0.5 else 'BELOW'} the 0.5 goal)"
            )
    finally:
        tracker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if results and all(rate / max(ceilings) >= 0.5 for rate in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
