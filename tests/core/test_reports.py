"""Reports: one report function, checked against the raw rows, and
the stats export it shares the data with."""

import json
from collections import defaultdict
from datetime import date, datetime, UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from affnet.core.network import accounts
from affnet.core.clicks import rollup, tracking
from affnet.core.storage.models import Click, Event, Offer, User
from affnet.core.reports import GROUPS, Cursor, ExportFilter, ReportError, build_report, export_page
from affnet.testing import click, click_id_of, ingest, sale_body

BOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"


class Traffic:
    """Clicks and events placed at chosen times through the real paths."""

    def __init__(self, app, network, clock):
        self.app, self.network, self.clock = app, network, clock
        self.client = app.test_client()

    def visit(self, at: datetime, ref: str, client=None, **params) -> str:
        self.clock.set(at)
        return click_id_of(click(client or self.app.test_client(), ref, **params))

    def convert(self, at: datetime, body: dict, key: str | None = None, call: str = "conversion") -> dict:
        self.clock.set(at)
        response = ingest(self.client, self.network, call, body, key=key)
        assert response.status_code in (201, 202), response.get_json()
        return response.get_json()


@pytest.fixture
def second_offer(affnet_network):
    """Offer "Nocturna" (EUR, sale 10.00 fixed, lead 0.10), the affiliate approved on it."""
    offer, key = accounts.create_offer(
        affnet_network.advertiser,
        "Nocturna",
        "https://nocturna.example/",
        currency="EUR",
        rules=[accounts.RuleSpec.parse("sale=10.00"), accounts.RuleSpec.parse("lead=0.10")],
    )
    participation = accounts.apply(affnet_network.affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    return offer, key, participation


@pytest.fixture(params=["clicks", "rollup", "rollup and clicks"])
def traffic(request, affnet_app, affnet_network, affnet_clock, second_offer):
    """Three days of traffic of two affiliates on two offers (USD and EUR), counted from the clicks alone,
    from the click rollup alone, or from the rollup up to the middle of the second day and the clicks after."""
    net = affnet_network
    nocturna, nocturna_key, nocturna_part = second_offer
    other = net.add_affiliate("other@example.com")
    t = Traffic(affnet_app, net, affnet_clock)
    day1 = datetime(2026, 6, 1)
    returning = affnet_app.test_client()
    first = t.visit(day1.replace(hour=9), net.ref, client=returning, s1="fb", s2="feed", gclid="g-1", fbclid="f-1")
    t.visit(day1.replace(hour=9, minute=5), net.ref, client=returning, s1="fb", s2="feed", gclid="g-1")  # not unique
    t.visit(day1.replace(hour=9, minute=10), net.ref, s1="fb", ua=BOT)
    t.convert(day1.replace(hour=10), sale_body(first, payment="pi_1", amount=29.0, user_ref="cus_1"))
    late = t.visit(day1.replace(hour=23, minute=30), net.ref, s1="tt")
    t.convert(day1.replace(hour=23, minute=40), {"click_id": late, "user_ref": "cus_2", "event": "lead"})
    eur = t.visit(datetime(2026, 6, 2, 12), nocturna_part.ref_code, s1="fb")
    t.convert(
        datetime(2026, 6, 2, 12, 30),
        {**sale_body(eur, payment="pi_eur", amount=50.0, user_ref="cus_3"), "currency": "EUR"},
        key=nocturna_key,
    )
    theirs = t.visit(datetime(2026, 6, 2, 13), other.ref_code, s1="fb", ttclid="t-1", gclid="g-2")
    t.convert(datetime(2026, 6, 2, 13, 30), sale_body(theirs, payment="pi_other", amount=19.9, user_ref="cus_4"))
    t.convert(
        datetime(2026, 6, 2, 14), sale_body("unknown-click", payment="pi_none", amount=9.0, user_ref="cus_nobody")
    )
    t.convert(datetime(2026, 6, 2, 23, 30), {"external_payment_id": "pi_1"}, call="refund")
    early = t.visit(datetime(2026, 6, 3, 2), net.ref, ttclid="t-1")
    t.convert(datetime(2026, 6, 3, 2, 10), {"click_id": early, "user_ref": "cus_5", "event": "trial"})
    t.convert(datetime(2026, 6, 3, 3), sale_body(early, payment="pi_5", amount=9.99, user_ref="cus_5"))
    t.convert(
        datetime(2026, 6, 3, 4),
        sale_body(None, payment="pi_5b", amount=9.99, user_ref="cus_5", event="rebill", is_first_payment=False),
    )
    if request.param == "rollup":
        assert rollup.advance() == datetime(2026, 6, 3, 3, 45)  # every click is before it
    elif request.param == "rollup and clicks":
        assert rollup.advance(now=datetime(2026, 6, 2, 12, 25)) == datetime(2026, 6, 2, 12, 15)
    return net


# ---- the reference: the same numbers computed in Python from the raw rows ----------------------------------


def _local_day(moment: datetime, tz: str) -> date:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()


def _key_of(group_by, row, moment, tz, click):
    if group_by == "day":
        return _local_day(moment, tz)
    if group_by == "offer":
        return Offer.get_by_id(row.offer_id).slug
    if group_by == "affiliate":
        return User.get_by_id(row.affiliate_id).email
    if click is None:
        return None
    if group_by in tracking.AD_CLICK_IDS:
        return json.loads(click.ad_click_ids or "{}").get(group_by)
    if group_by == "fbclid":
        return click.fbclid
    return getattr(click, "s" + group_by[3:])


def expected_from_raw_rows(group_by, date_from, date_to, tz, affiliate=None, offer=None):
    totals = defaultdict(lambda: defaultdict(Decimal))
    for row in Click.select():
        if not date_from <= _local_day(row.created_at, tz) <= date_to:
            continue
        if (affiliate and row.affiliate_id != affiliate.id) or (offer and row.offer_id != offer.id):
            continue
        bucket = totals[_key_of(group_by, row, row.created_at, tz, row)]
        bucket["clicks"] += 1
        bucket["bot_clicks"] += row.is_bot
        bucket["unique_clicks"] += row.is_unique and not row.is_bot
    names = {
        "lead": "leads",
        "trial": "trials",
        "sale": "sales",
        "rebill": "rebills",
        "refund": "rejected",
        "chargeback": "rejected",
    }
    for row in Event.select():
        if row.affiliate_id is None or not date_from <= _local_day(row.occurred_at, tz) <= date_to:
            continue
        if (affiliate and row.affiliate_id != affiliate.id) or (offer and row.offer_id != offer.id):
            continue
        bucket = totals[_key_of(group_by, row, row.occurred_at, tz, row.click if row.click_id else None)]
        bucket[names[row.kind]] += 1
        bucket["commission " + row.payout_currency] += row.payout
        if row.kind in ("sale", "rebill"):
            bucket["gross " + row.currency] += row.gross_amount
    return totals


def _as_totals(row) -> dict:
    numbers = {
        name: getattr(row, name)
        for name in ("clicks", "unique_clicks", "bot_clicks", "leads", "trials", "sales", "rebills", "rejected")
    }
    numbers.update({"commission " + c: amount for c, amount in row.commission.items()})
    numbers.update({"gross " + c: amount for c, amount in row.gross.items()})
    return {name: value for name, value in numbers.items() if value}


@pytest.mark.parametrize(
    "group_by, tz",
    [
        (group_by, "UTC")
        for group_by in GROUPS
        if group_by not in tracking.AD_CLICK_IDS or group_by in ("gclid", "ttclid")
    ]
    + [("day", "Europe/Madrid"), ("day", "America/New_York"), ("sub1", "America/New_York")],
)
def test_report_totals_match_the_raw_rows(traffic, group_by, tz):
    report = build_report(group_by, date(2026, 6, 1), date(2026, 6, 3), tz)
    expected = expected_from_raw_rows(group_by, date(2026, 6, 1), date(2026, 6, 3), tz)
    got = {row.key: _as_totals(row) for row in report.rows if _as_totals(row)}
    assert got == {key: {name: value for name, value in numbers.items() if value} for key, numbers in expected.items()}
    assert report.total.clicks == sum(numbers["clicks"] for numbers in expected.values())


@pytest.mark.parametrize("group_by", ["day", "offer", "sub1"])
def test_report_for_one_affiliate_counts_only_its_rows(traffic, group_by):
    other = User.get(User.email == "other@example.com")
    mine = build_report(group_by, date(2026, 6, 1), date(2026, 6, 3), affiliate=traffic.affiliate)
    theirs = build_report(group_by, date(2026, 6, 1), date(2026, 6, 3), affiliate=other)
    for report, who in ((mine, traffic.affiliate), (theirs, other)):
        expected = expected_from_raw_rows(group_by, date(2026, 6, 1), date(2026, 6, 3), "UTC", affiliate=who)
        assert {row.key: _as_totals(row) for row in report.rows if _as_totals(row)} == {
            key: {n: v for n, v in numbers.items() if v} for key, numbers in expected.items()
        }
    assert (theirs.total.clicks, theirs.total.sales, theirs.total.commission) == (1, 1, {"USD": Decimal("5.97")})


def test_report_for_one_offer_or_one_product_owner(traffic, second_offer):
    nocturna = second_offer[0]
    report = build_report("affiliate", date(2026, 6, 1), date(2026, 6, 3), offer=nocturna)
    assert [(row.key, row.clicks, row.sales, row.commission) for row in report.rows] == [
        ("aff@example.com", 1, 1, {"EUR": Decimal("10.00")})
    ]
    stranger, _ = accounts.create_user("stranger@example.com", "advertiser")
    assert build_report("offer", date(2026, 6, 1), date(2026, 6, 3), advertiser=stranger).rows == []
    owner = build_report("offer", date(2026, 6, 1), date(2026, 6, 3), advertiser=traffic.advertiser)
    assert {row.key for row in owner.rows} == {"susurra", "nocturna"}


def test_a_day_report_in_utc_by_hand(traffic):
    rows = build_report("day", date(2026, 6, 1), date(2026, 6, 3), affiliate=traffic.affiliate).rows
    summary = [
        (
            row.label,
            row.clicks,
            row.unique_clicks,
            row.bot_clicks,
            row.leads,
            row.trials,
            row.sales,
            row.rebills,
            row.rejected,
            row.commission,
        )
        for row in rows
    ]
    assert summary == [
        ("2026-06-01", 4, 2, 1, 1, 0, 1, 0, 0, {"USD": Decimal("9.20")}),  # 29.00 × 30% + lead 0.50
        ("2026-06-02", 1, 1, 0, 0, 0, 1, 0, 1, {"EUR": Decimal("10.00"), "USD": Decimal("-8.70")}),
        ("2026-06-03", 1, 1, 0, 0, 1, 1, 1, 0, {"USD": Decimal("7.00")}),  # 2.00 + 3.00 + 2.00
    ]


def test_days_are_local_days_of_the_time_zone(traffic):
    madrid = build_report("day", date(2026, 6, 1), date(2026, 6, 2), "Europe/Madrid", affiliate=traffic.affiliate)
    # 23:30 UTC on June 1 is 01:30 on June 2 in Madrid: that click and its lead move a day on
    assert [(row.label, row.clicks, row.leads) for row in madrid.rows] == [("2026-06-01", 3, 0), ("2026-06-02", 2, 1)]
    new_york = build_report("day", date(2026, 6, 2), date(2026, 6, 2), "America/New_York", affiliate=traffic.affiliate)
    # 02:00 UTC on June 3 is 22:00 on June 2 in New York
    assert [(row.label, row.clicks, row.trials) for row in new_york.rows] == [("2026-06-02", 2, 1)]


def test_a_daylight_saving_change_inside_the_range_moves_the_day_boundary(affnet_app, affnet_network, affnet_clock):
    t = Traffic(affnet_app, affnet_network, affnet_clock)
    # Madrid leaves summer time at 01:00 UTC on 25 October 2026 (UTC+2 before, UTC+1 after)
    for moment in (
        datetime(2026, 10, 24, 21, 59),
        datetime(2026, 10, 24, 22, 30),
        datetime(2026, 10, 25, 22, 30),
        datetime(2026, 10, 25, 23, 30),
    ):
        t.visit(moment, affnet_network.ref)
    report = build_report("day", date(2026, 10, 24), date(2026, 10, 26), "Europe/Madrid")
    assert [(row.label, row.clicks) for row in report.rows] == [("2026-10-24", 1), ("2026-10-25", 2), ("2026-10-26", 1)]


def test_a_day_report_has_a_row_for_every_day_of_the_range(traffic):
    rows = build_report("day", date(2026, 5, 30), date(2026, 6, 5)).rows
    assert [row.label for row in rows] == [
        f"2026-0{d}" for d in ("5-30", "5-31", "6-01", "6-02", "6-03", "6-04", "6-05")
    ]
    assert rows[0].clicks == 0 and rows[0].commission == {}


def test_money_totals_are_per_currency_and_exact(affnet_app, affnet_network, affnet_clock):
    t = Traffic(affnet_app, affnet_network, affnet_clock)
    for n in range(3):  # 0.10 three times: 0.30 exactly, never 0.30000000000000004
        clicked = t.visit(datetime(2026, 6, 1, 10, n), affnet_network.ref)
        t.convert(
            datetime(2026, 6, 1, 11, n), sale_body(clicked, payment=f"pi_{n}", amount="0.34", user_ref=f"cus_{n}")
        )
    total = build_report("offer", date(2026, 6, 1), date(2026, 6, 1)).total
    assert total.commission == {"USD": Decimal("0.30")}
    assert total.gross == {"USD": Decimal("1.02")}
    assert isinstance(total.commission["USD"], Decimal)


def test_epc_and_conversion_rate_follow_their_definitions(traffic):
    total = build_report("day", date(2026, 6, 1), date(2026, 6, 3), affiliate=traffic.affiliate).total
    human = total.clicks - total.bot_clicks
    assert total.epc == {
        currency: (amount / human).quantize(Decimal("0.0001")) for currency, amount in total.commission.items()
    }
    assert total.conversion_rate == (Decimal(total.sales) * 100 / total.unique_clicks).quantize(Decimal("0.01"))
    empty = build_report("day", date(2026, 1, 1), date(2026, 1, 1)).total
    assert empty.epc == {} and empty.conversion_rate is None


def test_events_count_under_the_sub_values_of_their_click(traffic):
    rows = {
        row.key: row
        for row in build_report("sub1", date(2026, 6, 1), date(2026, 6, 3), affiliate=traffic.affiliate).rows
    }
    assert (rows["tt"].clicks, rows["tt"].leads) == (1, 1)
    # the lifetime rebill has no click of its own: it counts under the first sale's click (no sub1)
    assert (rows[None].label, rows[None].trials, rows[None].sales, rows[None].rebills) == ("(none)", 1, 1, 1)


def test_unattributed_events_are_not_counted(traffic):
    total = build_report("offer", date(2026, 6, 2), date(2026, 6, 2)).total
    assert Event.select().where(~Event.attributed).count() == 1
    assert total.sales == 2 and total.gross == {"USD": Decimal("19.90"), "EUR": Decimal("50.00")}


@pytest.mark.parametrize(
    "args, field",
    [
        (("week", date(2026, 6, 1), date(2026, 6, 2)), "group_by"),
        (("day", date(2026, 6, 2), date(2026, 6, 1)), "to"),
        (("day", date(2026, 6, 1), date(2026, 6, 2), "Mars/Olympus"), "tz"),
    ],
)
def test_a_bad_group_range_or_zone_is_refused(affnet_app, args, field):
    with pytest.raises(ReportError) as caught:
        build_report(*args)
    assert caught.value.field == field


# ---- the export behind the stats API --------------------------------------------------------------------------


def _all_rows(selection, limit, chunk=1000):
    rows, after = [], None
    while True:
        page = export_page(selection, after, limit, chunk=chunk)
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        after = page.next_cursor


def test_export_is_ordered_by_event_time_then_txid(traffic):
    rows = list(export_page(ExportFilter(traffic.affiliate.id)).rows)
    assert [(row["time"], row["txid"]) for row in rows] == sorted((row["time"], row["txid"]) for row in rows)
    mine = Event.select().where(Event.affiliate == traffic.affiliate.id)
    assert sorted(row["txid"] for row in rows) == sorted(event.txid for event in mine)


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_paging_returns_every_row_once_in_order(traffic, limit):
    selection = ExportFilter(traffic.affiliate.id)
    whole = list(export_page(selection).rows)
    assert _all_rows(selection, limit) == whole


def test_reading_in_small_chunks_gives_the_same_rows(traffic):
    selection = ExportFilter(traffic.affiliate.id)
    assert list(export_page(selection, chunk=2).rows) == list(export_page(selection, chunk=1000).rows)


def test_a_page_is_stable_while_new_events_arrive(traffic, affnet_app, affnet_clock):
    selection = ExportFilter(traffic.affiliate.id)
    first = export_page(selection, None, 3)
    t = Traffic(affnet_app, traffic, affnet_clock)
    late = t.visit(datetime(2026, 6, 4, 8), traffic.ref)
    t.convert(datetime(2026, 6, 4, 9), sale_body(late, payment="pi_late", amount=29.0, user_ref="cus_late"))
    first_rows = list(first.rows)
    assert len(first_rows) == 3
    after, rest = first.next_cursor, []
    while after is not None:
        page = export_page(selection, after, 3)
        rest.extend(page.rows)
        after = page.next_cursor
    assert [row["txid"] for row in first_rows + rest] == [row["txid"] for row in export_page(selection).rows]
    assert rest[-1]["txid"] == Event.get(Event.external_payment_id == "pi_late").txid


def test_a_cursor_survives_the_round_trip_and_garbage_is_refused():
    cursor = Cursor(datetime(2026, 6, 1, 10, 0, 0, 123456), "tx_abc")
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(ReportError):
        Cursor.decode("not-a-cursor!")


def test_export_rows_carry_the_click_and_the_trackers_click_id(traffic):
    rows = list(export_page(ExportFilter(traffic.affiliate.id, events=("lead",))).rows)
    assert len(rows) == 1
    lead = rows[0]
    clicked = Click.get(Click.click_id == lead["click_id"])
    assert lead["clickid"] == "tt", "no clickid on the link: s1, as the postback's {clickid}"
    assert (lead["sub1"], lead["offer"], lead["event"], lead["status"]) == ("tt", "susurra", "lead", "lead")
    assert (lead["payout"], lead["currency"], lead["time"]) == ("0.50", "USD", "2026-06-01T23:40:00Z")
    assert clicked.s1 == "tt"
