"""Benchmark: reports and the stats API export on a big network.

Loads N clicks (default 5,000,000) and M events (default 200,000) spread over
90 days into a throwaway SQLite file and a throwaway PostgreSQL schema, then
times, for the busiest affiliate (a fifth of all traffic by default):

- a 30-day report grouped by day, and one grouped by sub1 (``build_report``);
- the stats API export of that month, CSV and JSON, through the Flask app;
- the affiliate's dashboard (today, 7 and 30 days with a chart) and stats
  page (30 days by day, by offer and by s1), logged in, through the Flask app.

Reports and exports have a goal of 1 s; pages, of 300 ms. ``make
bench-pages`` sizes the run so that the measured affiliate has a million
clicks in the last 30 days. Each figure is the median of three runs after a warm-up run. Everything it
made is removed at the end (the SQLite file's folder, the PostgreSQL schema).

    .venv/bin/python bench/reports.py                       # full size, both databases
    .venv/bin/python bench/reports.py --clicks 200000 --events 10000 --databases sqlite
    .venv/bin/python bench/reports.py --clicks 1300000 --events 60000 --days 30 --share 0.8   # make bench-pages
"""

import argparse
import io
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta

from affnet.config import load_settings
from affnet.core.network import accounts, api_tokens
from affnet.core import clock
from affnet.core.clicks import rollup
from affnet.core.storage import migrations
from affnet.core.storage.db import db, open_database
from affnet.core.storage.models import Click, ClickRollup, Event
from affnet.core.reports import build_report
from affnet.instance import init_instance

DEFAULT_POSTGRES = os.environ.get("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 [FBAN/FBIOS]",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]
KINDS = ["lead"] * 30 + ["trial"] * 15 + ["sale"] * 35 + ["rebill"] * 15 + ["refund"] * 5
STATUS = {"lead": "lead", "trial": "lead", "sale": "sale", "rebill": "sale", "refund": "rejected"}
CLICK_COLUMNS = [
    "id",
    "click_id",
    "created_at",
    "participation_id",
    "offer_id",
    "affiliate_id",
    *[f"s{n}" for n in range(1, 11)],
    "fbclid",
    "clickid",
    "ip",
    "user_agent",
    "referer",
    "is_unique",
    "is_bot",
]
EVENT_COLUMNS = [
    "id",
    "txid",
    "offer_id",
    "kind",
    "status",
    "dedup_key",
    "participation_id",
    "affiliate_id",
    "click_id",
    "attributed",
    "user_ref",
    "external_payment_id",
    "gross_amount",
    "currency",
    "payout",
    "payout_currency",
    "is_first_payment",
    "pending",
    "source",
    "occurred_at",
]
CHUNK = 50_000
PASSWORD = "bench-password-42"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def say(text: str) -> None:
    print(text, flush=True)


class Loader:
    """Writes rows in bulk: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, postgres: bool):
        self.postgres = postgres

    def write(self, table: str, columns: list, rows: list) -> None:
        connection = db.connection()
        cursor = connection.cursor()
        if self.postgres:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_copy_value(value) for value in row) + "\n")
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(_sqlite_value(value) for value in row) for row in rows],
            )
        connection.commit()


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _sqlite_value(value):
    if isinstance(value, datetime):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def make_network(affiliates: int):
    owner, _ = accounts.create_user("owner@bench.example", "advertiser")
    offers = []
    for name, currency in (("Susurra", "USD"), ("Nocturna", "USD"), ("Calma", "EUR")):
        offer, _ = accounts.create_offer(owner, name, f"https://{name.lower()}.example/", currency=currency)
        offers.append(offer)
    participations = {}
    users = []
    for n in range(affiliates):
        user, _ = accounts.create_user(f"aff{n}@bench.example", "affiliate", password=PASSWORD if n == 0 else None)
        users.append(user)
        for offer in offers:
            participation = accounts.apply(user, offer)
            accounts.set_participation_status(participation, "approved")
            participations[(user.id, offer.id)] = participation.id
    return users, offers, participations


def load(
    n_clicks: int,
    n_events: int,
    days: int,
    share: float,
    end: datetime,
    users,
    offers,
    participations,
    loader: Loader,
    rng: random.Random,
) -> None:
    """Clicks in time order (as they arrive), events picked among them."""
    start = end - timedelta(days=days)
    step = (end - start) / n_clicks
    busy = users[0]
    others = users[1:]
    campaigns = [f"campaign-{n}" for n in range(40)]
    placements = ["feed", "stories", "reels", "audience", "search", "video", "marketplace", "explore"]
    chosen = sorted(rng.sample(range(n_clicks), min(n_events, n_clicks)))
    picks = iter(chosen + [None])
    next_pick = next(picks)
    clicks, events, event_id, loaded = [], [], 0, 0
    began = time.perf_counter()
    for index in range(n_clicks):
        created = start + step * index
        user = busy if rng.random() < share or not others else rng.choice(others)
        offer = offers[0] if rng.random() < 0.6 else rng.choice(offers)
        participation = participations[(user.id, offer.id)]
        bot = rng.random() < 0.05
        clicks.append(
            (
                index + 1,
                secrets.token_urlsafe(16),
                created,
                participation,
                offer.id,
                user.id,
                rng.choice(campaigns),
                rng.choice(placements),
                f"ad{rng.randrange(300)}",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                f"IwAR{rng.getrandbits(64):x}",
                f"kt{index}",
                f"203.0.{rng.randrange(256)}.{rng.randrange(256)}",
                AGENTS[3] if bot else rng.choice(AGENTS[:3]),
                "https://facebook.com/",
                rng.random() < 0.8,
                bot,
            )
        )
        if index == next_pick:
            event_id += 1
            kind = rng.choice(KINDS)
            at = min(created + timedelta(minutes=rng.randrange(1, 3000)), end - timedelta(seconds=1))
            paid = kind in ("sale", "rebill", "refund")
            gross = 2900_00 if paid else None  # 29.00 in 1/10,000 units
            payout = {"lead": 5000, "trial": 20000, "sale": 87000, "rebill": 58000, "refund": -87000}[kind]
            currency = offer.currency
            events.append(
                (
                    event_id,
                    "tx_" + secrets.token_urlsafe(12),
                    offer.id,
                    kind,
                    STATUS[kind],
                    f"{kind}:{event_id}",
                    participation,
                    user.id,
                    index + 1,
                    True,
                    f"cus_{event_id}",
                    f"pi_{event_id}" if paid else None,
                    gross,
                    currency if paid else None,
                    payout,
                    currency,
                    kind == "sale",
                    False,
                    "bench",
                    at,
                )
            )
            next_pick = next(picks)
        if len(clicks) == CHUNK:
            loader.write("click", CLICK_COLUMNS, clicks)
            loaded += len(clicks)
            clicks = []
            if loaded % 500_000 == 0:
                rate = loaded / (time.perf_counter() - began)
                say(f"  {loaded:>9,} clicks loaded ({rate:,.0f} rows/s)")
    if clicks:
        loader.write("click", CLICK_COLUMNS, clicks)
    for offset in range(0, len(events), CHUNK):
        loader.write("event", EVENT_COLUMNS, events[offset : offset + CHUNK])
    say(f"  loaded {n_clicks:,} clicks and {len(events):,} events in {time.perf_counter() - began:.0f} s")


def timed(function, repeat: int) -> tuple[float, object]:
    result = function()  # warm-up
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs), result


def run_database(name: str, url: str, args, workdir: str) -> list:
    database = open_database(url)
    postgres = name == "postgresql"
    rng = random.Random(42)
    end = clock.now().replace(microsecond=0)  # the traffic runs up to now, so "today" has its share
    with db.connection_context():
        migrations.migrate(progress=lambda line: None)
        users, offers, participations = make_network(args.affiliates)
        for model in (Click, Event):
            model._schema.drop_indexes(safe=True)
        say(f"{name}: loading")
        load(args.clicks, args.events, args.days, args.share, end, users, offers, participations, Loader(postgres), rng)
        began = time.perf_counter()
        for model in (Click, Event):
            model._schema.create_indexes(safe=True)
        say(f"  indexes in {time.perf_counter() - began:.0f} s")
        began = time.perf_counter()
        rollup.advance(budget_seconds=3600)  # what the worker does a minute at a time, here all at once
        say(f"  clicks rolled up in {time.perf_counter() - began:.1f} s ({ClickRollup.select().count():,} rows)")
        began = time.perf_counter()
        if postgres:
            connection = database.connection()
            autocommit, connection.autocommit = connection.autocommit, True  # VACUUM runs outside transactions
            db.execute_sql("VACUUM ANALYZE click")
            db.execute_sql("VACUUM ANALYZE event")
            db.execute_sql("VACUUM ANALYZE click_rollup")
            connection.autocommit = autocommit
        else:
            db.execute_sql("ANALYZE")
        say(f"  statistics in {time.perf_counter() - began:.0f} s")
        busy = users[0]
        _, token = api_tokens.create_token(busy, "bench")
    date_to = (end - timedelta(days=1)).date()
    date_from = date_to - timedelta(days=29)
    results = []
    with db.connection_context():
        for group in ("day", "sub1"):
            seconds, report = timed(
                lambda group=group: build_report(group, date_from, date_to, "Europe/Madrid", affiliate=busy),
                args.repeat,
            )
            results.append(
                _result(
                    name,
                    f"30-day report by {group}",
                    f"{report.total.clicks:,} clicks, {_conversions(report):,} conv.",
                    seconds,
                )
            )
        seconds, report = timed(lambda: build_report("day", date_from, date_to, "Europe/Madrid"), args.repeat)
        results.append(
            _result(
                name,
                "30-day report by day, all affiliates",
                f"{report.total.clicks:,} clicks, {_conversions(report):,} conv.",
                seconds,
                goal=None,
            )
        )
    app = _app(url, workdir)
    client = app.test_client()
    for fmt in ("csv", "json"):
        query = f"/api/affiliate/stats-api?from={date_from}&to={date_to}&format={fmt}"

        def export(query=query):
            response = client.get(query, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.data[:300]
            return response.get_data()

        seconds, body = timed(export, args.repeat)
        rows = body.count(b"\n") - 1 if fmt == "csv" else body.count(b'"txid"')
        results.append(_result(name, f"stats API export, 30 days, {fmt}", f"{rows:,} rows", seconds))
    results += _pages(name, app, busy, date_from, date_to, args.repeat)
    database.close_all()
    return results


def _pages(name: str, app, busy, date_from: date, date_to: date, repeat: int) -> list:
    """The affiliate's dashboard and stats page, logged in as a browser would be."""
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    answer = client.post("/login", data={"csrf_token": token, "email": busy.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.status_code
    results = []
    pages = [("dashboard", "/dashboard")] + [
        (f"stats page, 30 days by {group}", f"/stats?from={date_from}&to={date_to}&group_by={group}")
        for group in ("day", "offer", "sub1")
    ]
    today = clock.now().date()
    with db.connection_context():
        month = Click.select().where(
            (Click.affiliate == busy.id) & (Click.created_at >= _utc(today - timedelta(days=29)))
        )
        dashboard_clicks = month.count()
        range_clicks = (
            Click.select()
            .where((Click.affiliate == busy.id) & (Click.created_at >= _utc(date_from)))
            .where(Click.created_at < _utc(date_to + timedelta(days=1)))
            .count()
        )
    for measure, path in pages:
        clicks = dashboard_clicks if path == "/dashboard" else range_clicks

        def page(path=path):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response.get_data()

        seconds, body = timed(page, repeat)
        results.append(_result(name, measure, f"{clicks:,} clicks, {len(body) // 1024} KiB", seconds, goal=0.3))
    return results


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _conversions(report) -> int:
    total = report.total
    return total.leads + total.trials + total.sales + total.rebills + total.rejected


def _result(database: str, measure: str, size: str, seconds: float, goal: float | None = 1.0) -> tuple:
    """One line of the final table, also printed as soon as it is measured."""
    row = (database, measure, size, seconds, goal)
    say(f"  {_line(row)}")
    return row


def _line(row) -> str:
    database, measure, size, seconds, goal = row
    verdict = (("ok" if seconds < goal else "SLOW") + f" (< {goal:g} s)") if goal else "(no goal)"
    return f"{database:<11} {measure:<37} {size:<28} {seconds:>8.3f}  {verdict}"


def _app(url: str, workdir: str):
    from affnet.app import create_app

    instance = os.path.join(workdir, "instance")
    init_instance(instance)
    settings = load_settings(
        None,
        overrides={"database_url": url, "instance_path": instance, "plugins.enabled": [], "log_level": "WARNING"},
        environ={},
    )
    return create_app(settings, load_entrypoints=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=5_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90, help="days the clicks are spread over")
    parser.add_argument("--affiliates", type=int, default=20)
    parser.add_argument("--share", type=float, default=0.2, help="the measured affiliate's share of traffic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a server where a schema may be made")
    args = parser.parse_args(argv)
    results = []
    for name in args.databases.split(","):
        workdir = tempfile.mkdtemp(prefix="affnet-bench-")
        try:
            if name == "sqlite":
                results += run_database(name, f"sqlite:///{workdir}/bench.db", args, workdir)
            elif name == "postgresql":
                results += _with_schema(args, workdir)
            else:
                parser.error(f"unknown database {name}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    say("")
    say(
        f"{args.clicks:,} clicks, {args.events:,} events over {args.days} days; "
        f"measured affiliate: {args.share:.0%} of the traffic; median of {args.repeat} runs"
    )
    say(f"{'database':<11} {'measure':<37} {'size':<28} {'seconds':>8}  goal")
    for row in results:
        say(_line(row))
    return 0 if all(row[3] < row[4] for row in results if row[4]) else 1


def _with_schema(args, workdir: str) -> list:
    import psycopg2

    schema = f"affnet_bench_reports_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg2.connect(args.postgres)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in args.postgres else "?"
        return run_database("postgresql", f"{args.postgres}{separator}options=-csearch_path%3D{schema}", args, workdir)
    finally:
        if db.obj is not None:
            db.obj.close_all()
        admin.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
