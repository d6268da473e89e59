"""The click rollup: reports by day, offer or affiliate count the rolled-up slots and the clicks after
them, and get the figures the clicks alone give, in every time zone, also when clicks arrive late."""

import random
import threading
from datetime import date, datetime, timedelta

import pytest
from peewee import fn

from affnet.core.clicks import rollup
from affnet.core.reports import build_report
from affnet.core.storage.db import db
from affnet.core.storage.models import Click, ClickRollup, RollupMark
from affnet.core.storage.retention import RetentionJob
from affnet.testing import click, load_clicks

# Zones whose offsets are whole hours, half hours and quarter hours, with and without daylight saving
# (Lord Howe moves by half an hour).
ZONES = (
    "UTC",
    "Europe/Madrid",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
)


def _insert_clicks(network, moments, unique=True, bot=False):
    Click.insert_many(
        [
            {
                "click_id": f"c-{moment.isoformat()}-{n}",
                "created_at": moment,
                "participation": network.participation.id,
                "offer": network.offer.id,
                "affiliate": network.affiliate.id,
                "is_unique": unique if isinstance(unique, bool) else unique[n],
                "is_bot": bot if isinstance(bot, bool) else bot[n],
            }
            for n, moment in enumerate(moments)
        ]
    ).execute()


def _figures(report):
    return [(row.label, row.clicks, row.unique_clicks, row.bot_clicks) for row in report.rows]


def test_a_slot_is_counted_once_it_ended_ten_minutes_ago(affnet_app, affnet_network):
    _insert_clicks(affnet_network, [datetime(2026, 6, 1, 10, 1), datetime(2026, 6, 1, 10, 14, 59)])
    _insert_clicks(affnet_network, [datetime(2026, 6, 1, 10, 15)], unique=False)
    assert rollup.advance(now=datetime(2026, 6, 1, 10, 24, 59)) == datetime(2026, 6, 1, 10, 0)
    assert ClickRollup.select().count() == 0
    assert rollup.advance(now=datetime(2026, 6, 1, 10, 25)) == datetime(2026, 6, 1, 10, 15)
    rows = [(r.bucket, r.clicks, r.unique_clicks, r.bot_clicks) for r in ClickRollup.select()]
    assert rows == [(datetime(2026, 6, 1, 10, 0), 2, 2, 0)]
    assert rollup.advance(now=datetime(2026, 6, 1, 10, 40)) == datetime(2026, 6, 1, 10, 30)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 3


def test_unique_and_bot_clicks_are_counted_as_reports_count_them(affnet_app, affnet_network):
    at = datetime(2026, 6, 1, 10, 0)
    _insert_clicks(affnet_network, [at] * 4, unique=[True, True, False, False], bot=[False, True, False, True])
    rollup.advance(now=datetime(2026, 6, 2))
    row = ClickRollup.get()
    assert (row.clicks, row.unique_clicks, row.bot_clicks) == (4, 1, 2)


@pytest.mark.parametrize("zone", ZONES)
def test_every_time_zone_gets_the_same_report_from_the_rollup_as_from_the_clicks(affnet_app, affnet_network, zone):
    rng = random.Random(zone)
    start = datetime(2026, 10, 2)  # Madrid, New York, Chatham and Lord Howe change their clocks in the range
    moments = [start + timedelta(seconds=rng.randrange(40 * 86400)) for _ in range(600)]
    _insert_clicks(
        affnet_network, moments, unique=[rng.random() < 0.7 for _ in moments], bot=[rng.random() < 0.1 for _ in moments]
    )
    reports = {}
    for mark in (None, datetime(2026, 10, 20, 13, 10), datetime(2026, 11, 30)):
        if mark:
            rollup.advance(now=mark)
        reports[mark] = [
            _figures(
                build_report(group, date(2026, 10, 1), date(2026, 11, 12), zone, affiliate=affnet_network.affiliate)
            )
            for group in ("day", "offer")
        ]
    assert reports[None][0] and sum(row[1] for row in reports[None][0]) == 600
    assert reports[datetime(2026, 10, 20, 13, 10)] == reports[None]
    assert reports[datetime(2026, 11, 30)] == reports[None]
    assert rollup.rolled_up_until() == datetime(2026, 11, 29, 23, 45)


def test_a_click_loaded_into_a_counted_slot_moves_the_mark_back_and_is_counted_once(
    affnet_app, affnet_client, affnet_network, affnet_clock
):
    _insert_clicks(affnet_network, [datetime(2026, 6, 1, 9, 20)])
    affnet_clock.set(datetime(2026, 6, 1, 9, 5))
    assert affnet_client.get(f"/r?ref={affnet_network.ref}").status_code == 302  # spooled, loaded at noon
    affnet_clock.set(datetime(2026, 6, 1, 12, 0))
    assert rollup.advance() == datetime(2026, 6, 1, 11, 45)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 1

    load_clicks(affnet_app)
    assert rollup.rolled_up_until() == datetime(2026, 6, 1, 9, 0)
    assert ClickRollup.select().where(ClickRollup.bucket >= datetime(2026, 6, 1, 9, 0)).count() == 0
    assert build_report("day", date(2026, 6, 1), date(2026, 6, 1)).total.clicks == 2
    assert rollup.advance() == datetime(2026, 6, 1, 11, 45)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 2
    assert build_report("day", date(2026, 6, 1), date(2026, 6, 1)).total.clicks == 2


def test_a_fresh_click_leaves_the_mark_alone(affnet_app, affnet_client, affnet_network, affnet_clock):
    affnet_clock.set(datetime(2026, 6, 1, 9, 0))
    click(affnet_client, affnet_network.ref)
    load_clicks(affnet_app)
    affnet_clock.set(datetime(2026, 6, 1, 12, 0))
    assert rollup.advance() == datetime(2026, 6, 1, 11, 45)
    click(affnet_client, affnet_network.ref)
    load_clicks(affnet_app)
    assert rollup.rolled_up_until() == datetime(2026, 6, 1, 11, 45)
    assert build_report("day", date(2026, 6, 1), date(2026, 6, 1)).total.clicks == 2


def test_months_without_clicks_are_skipped_in_one_round(affnet_app, affnet_network):
    _insert_clicks(affnet_network, [datetime(2025, 1, 1, 8, 0), datetime(2026, 6, 1, 8, 0)])
    assert rollup.advance(now=datetime(2026, 6, 2), budget_seconds=0) == datetime(2025, 1, 1, 14, 0)
    assert rollup.advance(now=datetime(2026, 6, 2), budget_seconds=0) == datetime(2026, 6, 1, 14, 0)
    assert rollup.advance(now=datetime(2026, 6, 2)) == datetime(2026, 6, 1, 23, 45)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 2


def test_workers_counting_at_once_count_every_click_once(affnet_app, affnet_network):
    rng = random.Random(7)
    _insert_clicks(
        affnet_network, [datetime(2026, 6, 1) + timedelta(minutes=rng.randrange(10 * 1440)) for _ in range(500)]
    )
    failures = []

    def work():
        try:
            with db.connection_context():
                for _ in range(5):
                    rollup.advance(now=datetime(2026, 6, 12), budget_seconds=0)
        except Exception as error:  # a lost race would show as a duplicate key
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert rollup.advance(now=datetime(2026, 6, 12)) == datetime(2026, 6, 11, 23, 45)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 500


def test_the_worker_counts_clicks_every_minute(affnet_app, affnet_network, affnet_worker, affnet_clock):
    _insert_clicks(affnet_network, [affnet_clock.now - timedelta(hours=1)])
    affnet_worker.run_once()
    assert rollup.rolled_up_until() == rollup.slot_of(affnet_clock.now - rollup.SEAL_AFTER)
    assert ClickRollup.select(fn.SUM(ClickRollup.clicks)).scalar() == 1


def test_clicks_deleted_by_retention_keep_their_count_in_day_reports(affnet_app, affnet_network, affnet_clock):
    _insert_clicks(affnet_network, [datetime(2026, 1, 10, 12, 0)] * 3)
    affnet_clock.set(datetime(2026, 6, 1))
    rollup.advance()
    assert RetentionJob(0, 90).run(now=datetime(2026, 6, 1))["deleted"] == 3
    assert Click.select().count() == 0
    assert build_report("day", date(2026, 1, 10), date(2026, 1, 10)).total.clicks == 3
    assert build_report("sub1", date(2026, 1, 10), date(2026, 1, 10)).total.clicks == 0


def test_without_a_mark_every_click_is_read(affnet_app, affnet_network):
    _insert_clicks(affnet_network, [datetime(2026, 6, 1, 8, 0)])
    RollupMark.delete().execute()
    assert rollup.rolled_up_until() is None
    assert build_report("offer", date(2026, 6, 1), date(2026, 6, 1)).total.clicks == 1
