"""SPEC section 7: the stats API ``GET /api/affiliate/stats-api``."""

import csv
import io
from datetime import datetime

import pytest

from affnet.core.network import accounts, api_tokens
from affnet.core.clicks import tracking
from affnet.core.storage.models import Event
from affnet.core.reports import EXPORT_COLUMNS
from affnet.testing import click, click_id_of, ingest, sale_body

URL = "/api/affiliate/stats-api"


@pytest.fixture
def world(affnet_app, affnet_client, affnet_network, affnet_clock):
    """Affiliate A: a lead (June 1), a sale (June 2), its refund (June 3) on
    Susurra and a sale on Nocturna (EUR, June 2); affiliate B: a sale on
    Susurra (June 2). Each affiliate has a token."""
    net = affnet_network
    nocturna, nocturna_key = accounts.create_offer(
        net.advertiser,
        "Nocturna",
        "https://nocturna.example/",
        currency="EUR",
        rules=[accounts.RuleSpec.parse("sale=10.00")],
    )
    nocturna_part = accounts.apply(net.affiliate, nocturna)
    accounts.set_participation_status(nocturna_part, "approved")
    other = net.add_affiliate("other@example.com")

    def visit(at, ref, **params):
        affnet_clock.set(at)
        return click_id_of(click(affnet_app.test_client(), ref, **params))

    def convert(at, body, key=None, call="conversion"):
        affnet_clock.set(at)
        assert ingest(affnet_client, net, call, body, key=key).status_code == 201

    first = visit(datetime(2026, 6, 1, 9), net.ref, s1="fb", s2="feed", clickid="kt-1")
    convert(datetime(2026, 6, 1, 10), {"click_id": first, "user_ref": "cus_1", "event": "lead"})
    convert(datetime(2026, 6, 2, 10), sale_body(first, payment="pi_1", amount=29.0, user_ref="cus_1"))
    eur = visit(datetime(2026, 6, 2, 11), nocturna_part.ref_code, s1="tt")
    convert(
        datetime(2026, 6, 2, 12),
        {**sale_body(eur, payment="pi_eur", amount=50.0, user_ref="cus_2"), "currency": "EUR"},
        key=nocturna_key,
    )
    theirs = visit(datetime(2026, 6, 2, 13), other.ref_code, s1="theirs")
    convert(datetime(2026, 6, 2, 14), sale_body(theirs, payment="pi_other", amount=19.9, user_ref="cus_3"))
    convert(datetime(2026, 6, 3, 9), {"external_payment_id": "pi_1"}, call="refund")
    _, mine = api_tokens.create_token(net.affiliate, "Keitaro")
    _, their_token = api_tokens.create_token(other.affiliate, "Binom")
    return {"token": mine, "other_token": their_token, "network": net}


def get(client, token, **query):
    return client.get(URL, query_string={"token": token, **query})


def rows_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    if response.mimetype == "application/json":
        return response.get_json()
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def txids(client, token, **query):
    return [row["txid"] for row in rows_of(get(client, token, format="json", **query))]


def test_csv_has_a_header_row_and_one_row_per_event_of_the_affiliate(affnet_client, world):
    response = get(affnet_client, world["token"], format="csv")
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].split(",") == [
        "txid",
        "time",
        "offer",
        "click_id",
        "clickid",
        *[f"sub{n}" for n in range(1, 11)],
        "fbclid",
        *tracking.AD_CLICK_IDS,
        "event",
        "status",
        "payout",
        "currency",
    ]
    rows = rows_of(response)
    expected = Event.select().where(Event.affiliate == world["network"].affiliate.id).order_by(Event.occurred_at)
    assert [row["txid"] for row in rows] == [event.txid for event in expected]
    assert [(row["event"], row["status"], row["payout"], row["currency"]) for row in rows] == [
        ("lead", "lead", "0.50", "USD"),
        ("sale", "sale", "8.70", "USD"),
        ("sale", "sale", "10.00", "EUR"),
        ("refund", "rejected", "-8.70", "USD"),
    ]


def test_csv_is_the_default_format(affnet_client, world):
    response = affnet_client.get(URL, query_string={"token": world["token"]})
    assert response.mimetype == "text/csv" and len(rows_of(response)) == 4


def test_json_is_a_list_of_objects_with_the_same_columns(affnet_client, world):
    response = get(affnet_client, world["token"], format="json")
    assert response.mimetype == "application/json"
    rows = response.get_json()
    assert isinstance(rows, list) and len(rows) == 4
    assert all(list(row) == list(EXPORT_COLUMNS) for row in rows)
    lead = rows[0]
    assert lead["time"] == "2026-06-01T10:00:00Z"
    assert (lead["offer"], lead["clickid"], lead["sub1"], lead["sub2"], lead["sub3"]) == (
        "susurra",
        "kt-1",
        "fb",
        "feed",
        None,
    )
    assert lead["click_id"] == Event.get(Event.txid == lead["txid"]).click.click_id


def test_csv_and_json_give_the_same_rows(affnet_client, world):
    as_csv = rows_of(get(affnet_client, world["token"], format="csv"))
    as_json = rows_of(get(affnet_client, world["token"], format="json"))
    assert as_csv == [{key: "" if value is None else value for key, value in row.items()} for row in as_json]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_body_is_streamed(affnet_client, world, fmt):
    response = get(affnet_client, world["token"], format=fmt)
    assert response.is_streamed
    assert len(rows_of(response)) == 4


def test_token_is_accepted_as_a_bearer_header(affnet_client, world):
    response = affnet_client.get(
        URL, query_string={"format": "json"}, headers={"Authorization": f"Bearer {world['token']}"}
    )
    assert len(rows_of(response)) == 4


@pytest.mark.parametrize("how", ["missing", "wrong", "revoked", "wrong bearer"])
def test_without_a_valid_token_the_answer_is_401(affnet_client, world, how):
    headers, query = {}, {}
    if how == "wrong":
        token = world["token"]
        query["token"] = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off
    elif how == "revoked":
        row = api_tokens.list_tokens(world["network"].affiliate)[0]
        api_tokens.revoke_token(row.id)
        query["token"] = world["token"]
    elif how == "wrong bearer":
        headers["Authorization"] = "Bearer st_nope"
    response = affnet_client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing, unknown or revoked token", "fields": {}}
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_an_affiliate_sees_only_its_own_rows(affnet_client, world):
    theirs = rows_of(get(affnet_client, world["other_token"], format="json"))
    assert [(row["sub1"], row["payout"]) for row in theirs] == [("theirs", "5.97")]
    assert not set(txids(affnet_client, world["token"])) & {row["txid"] for row in theirs}


def test_another_affiliates_offer_gives_nothing(affnet_client, world):
    """B never joined Nocturna, where A has a sale: asking for it gives an empty list."""
    assert txids(affnet_client, world["other_token"], offer="nocturna") == []
    assert get(affnet_client, world["other_token"], offer="nocturna", format="csv").get_data(
        as_text=True
    ).splitlines() == [",".join(EXPORT_COLUMNS)]


def test_query_parameters_cannot_widen_a_token_to_another_affiliate(affnet_client, world):
    other = world["network"].affiliate
    query = {"affiliate": str(other.id), "affiliate_id": str(other.id), "user": other.email}
    assert len(txids(affnet_client, world["other_token"], **query)) == 1
    response = affnet_client.get(
        URL,
        query_string={"token": world["token"], "format": "json"},
        headers={"Authorization": f"Bearer {world['other_token']}"},
    )
    assert len(rows_of(response)) == 1, "the Bearer header wins: one token, one affiliate"


def test_offer_filter(affnet_client, world):
    rows = rows_of(get(affnet_client, world["token"], offer="nocturna", format="json"))
    assert [(row["offer"], row["currency"]) for row in rows] == [("nocturna", "EUR")]
    assert txids(affnet_client, world["token"], offer="no-such-offer") == []


def test_from_and_to_dates_include_whole_utc_days(affnet_client, world):
    june_2 = rows_of(get(affnet_client, world["token"], format="json", **{"from": "2026-06-02", "to": "2026-06-02"}))
    assert [row["time"] for row in june_2] == ["2026-06-02T10:00:00Z", "2026-06-02T12:00:00Z"]
    assert len(txids(affnet_client, world["token"], **{"from": "2026-06-02"})) == 3
    assert len(txids(affnet_client, world["token"], to="2026-06-01")) == 1


def test_from_and_to_as_iso_times_in_utc_or_with_an_offset(affnet_client, world):
    window = {"from": "2026-06-02T10:00:00Z", "to": "2026-06-02T12:00:00Z"}
    rows = rows_of(get(affnet_client, world["token"], format="json", **window))
    assert [row["time"] for row in rows] == ["2026-06-02T10:00:00Z"], "from included, to excluded"
    with_offset = {"from": "2026-06-02T12:00:00+02:00", "to": "2026-06-02T14:00:00+02:00"}
    assert txids(affnet_client, world["token"], **with_offset) == [rows[0]["txid"]]
    naive = {"from": "2026-06-02T10:00:00", "to": "2026-06-02T12:00:00"}
    assert txids(affnet_client, world["token"], **naive) == [rows[0]["txid"]]


def test_event_filter_takes_one_or_several_kinds(affnet_client, world):
    assert [row["event"] for row in rows_of(get(affnet_client, world["token"], event="sale", format="json"))] == [
        "sale",
        "sale",
    ]
    kinds = [row["event"] for row in rows_of(get(affnet_client, world["token"], event="lead,refund", format="json"))]
    assert kinds == ["lead", "refund"]


def test_status_filter(affnet_client, world):
    rows = rows_of(get(affnet_client, world["token"], status="rejected", format="json"))
    assert [(row["event"], row["status"], row["payout"]) for row in rows] == [("refund", "rejected", "-8.70")]
    assert len(rows_of(get(affnet_client, world["token"], status="sale", format="json"))) == 2


def test_filters_combine(affnet_client, world):
    rows = rows_of(
        get(
            affnet_client,
            world["token"],
            offer="susurra",
            status="sale",
            format="json",
            **{"from": "2026-06-02", "to": "2026-06-02"},
        )
    )
    assert [(row["offer"], row["event"], row["payout"]) for row in rows] == [("susurra", "sale", "8.70")]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_limit_and_after_page_through_every_row_once(affnet_client, world, fmt):
    everything = txids(affnet_client, world["token"])
    seen, after, pages = [], None, 0
    while True:
        query = {"limit": "3", "format": fmt, **({"after": after} if after else {})}
        response = get(affnet_client, world["token"], **query)
        seen.extend(row["txid"] for row in rows_of(response))
        pages += 1
        after = response.headers.get("X-Next-Cursor")
        if not after:
            assert "Link" not in response.headers
            break
        assert 'rel="next"' in response.headers["Link"] and f"after={after}" in response.headers["Link"]
        assert world["token"] not in response.headers["Link"], "the token is never echoed"
    assert (seen, pages) == (everything, 2)


def test_a_full_last_page_has_no_next_cursor(affnet_client, world):
    response = get(affnet_client, world["token"], limit="4")
    assert len(rows_of(response)) == 4 and "X-Next-Cursor" not in response.headers


@pytest.mark.parametrize(
    "query, field",
    [
        ({"from": "June 1st"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"format": "xml"}, "format"),
        ({"event": "install"}, "event"),
        ({"status": "approved"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": "garbage!"}, "after"),
        ({"from": "2026-06-03", "to": "2026-06-01"}, "to"),
    ],
)
def test_a_bad_query_answers_422_with_one_clear_message(affnet_client, world, query, field):
    response = get(affnet_client, world["token"], **query)
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"error", "fields"} and list(body["fields"]) == [field]
    assert body["error"].startswith("invalid query: " + field)


def test_the_report_endpoint_answers_the_affiliates_own_report(affnet_client, world):
    response = affnet_client.get(
        "/api/affiliate/report",
        query_string={
            "token": world["token"],
            "group_by": "offer",
            "from": "2026-06-01",
            "to": "2026-06-03",
            "format": "json",
        },
    )
    body = response.get_json()
    assert [(row["key"], row["sales"], row["commission"]) for row in body["rows"]] == [
        ("nocturna", 1, {"EUR": "10.00"}),
        ("susurra", 1, {"USD": "0.50"}),
    ]
    as_csv = affnet_client.get(
        "/api/affiliate/report",
        query_string={"token": world["token"], "group_by": "day", "from": "2026-06-01", "to": "2026-06-03"},
    )
    lines = as_csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("day,clicks,unique_clicks") and lines[-1].startswith("total,")
    assert affnet_client.get("/api/affiliate/report").status_code == 401


@pytest.mark.parametrize(
    "query, field",
    [
        ({"group_by": "week"}, "group_by"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"from": "yesterday"}, "from"),
        ({"format": "xml"}, "format"),
    ],
)
def test_a_bad_report_query_answers_422(affnet_client, world, query, field):
    response = affnet_client.get("/api/affiliate/report", query_string={"token": world["token"], **query})
    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == [field]
