"""Seeds a benchmark database (run by bench/run.py with its environment).

``seed.py RECEIVER_URL`` makes an offer, an approved affiliate with a
postback to the receiver (when a postback plugin is enabled) and one click,
and prints them as JSON. ``seed.py --clicks N REF`` adds N clicks to that
affiliate's participation the way spooled clicks are loaded.
``seed.py --count-events`` prints how many events the database holds,
``seed.py --count-pending`` how many deliveries wait to be sent.
"""

import json
import os
import sys
import time
from datetime import timedelta

from affnet.app import build_services
from affnet.config import load_settings
from affnet.core.network import accounts
from affnet.core import clock
from affnet.core.deliveries import setting_versions
from affnet.core.clicks import tracking
from affnet.core.storage.db import db, is_postgres
from affnet.core.storage.models import Delivery, Event
from affnet.core.storage.sql import insert_clicks


def seed(receiver_url: str, services) -> dict:
    owner, _ = accounts.create_user("owner@bench.example", "advertiser")
    offer, key = accounts.create_offer(
        owner, "Susurra", "https://susurra.example/start?lang=en", rules=[accounts.RuleSpec.parse("sale=30%")]
    )
    affiliate, _ = accounts.create_user("aff@bench.example", "affiliate")
    participation = accounts.apply(affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    kind = services.registry.kinds.get("postback")
    if kind is not None:
        setting_versions.save(
            kind,
            affiliate,
            {"url": receiver_url + "?subid={clickid}&status={status}&payout={payout}&currency={currency}"},
        )
    route = tracking.find_route(participation.ref_code, cached=False)
    click = tracking.record_click(
        route, {"s1": "bench"}, ip="127.0.0.1", user_agent="Mozilla/5.0", referer=None, method="GET", has_cookie=False
    )
    return {"ref": participation.ref_code, "offer_key": key, "click_id": click["click_id"]}


def load_clicks(count: int, ref: str) -> None:
    route = tracking.find_route(ref, cached=False)
    start = clock.now() - timedelta(days=30)
    step = 30 * 86400 / count
    chunk = 100_000
    began = time.monotonic()
    for offset in range(0, count, chunk):
        rows = [
            tracking.click_row(
                route,
                {"s1": f"adset-{n % 50}", "s2": "feed"},
                ip=f"10.0.{n % 250}.{n % 200}",
                user_agent="Mozilla/5.0",
                referer=None,
                method="GET",
                has_cookie=n % 3 == 0,
                now=start + timedelta(seconds=n * step),
            )
            for n in range(offset, min(offset + chunk, count))
        ]
        with db.atomic():
            insert_clicks(rows)  # the path spooled clicks take: COPY on PostgreSQL
        done = min(offset + chunk, count)
        print(f"  {done:,} clicks ({done / (time.monotonic() - began):,.0f}/s)", file=sys.stderr, flush=True)
    # what the database would have done on its own long before a million clicks were a day old:
    # PostgreSQL's autovacuum, SQLite's checkpoint of its write-ahead log
    if is_postgres():
        db.execute_sql("VACUUM ANALYZE click")
    else:
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    services = build_services(load_settings(None))
    with db.connection_context():
        if sys.argv[1] == "--clicks":
            load_clicks(int(sys.argv[2]), sys.argv[3])
        elif sys.argv[1] == "--count-events":
            print(Event.select().count())
        elif sys.argv[1] == "--count-pending":
            print(Delivery.select().where(Delivery.status == "pending").count())
        else:
            print(json.dumps(seed(sys.argv[1], services)))
    os._exit(0)  # the spool's and the log's daemon threads have nothing to finish


if __name__ == "__main__":
    main()
