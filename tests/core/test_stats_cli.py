"""`affnet report` and `affnet tokens`: the report in the terminal and as
CSV, and stats API tokens from the command line."""

import csv
import io
from datetime import datetime

import pytest

from affnet.core.network import api_tokens
from affnet.core.storage.models import ApiToken
from affnet.core.reports import build_report
from affnet.testing import click, click_id_of, ingest, sale_body


@pytest.fixture
def run(run_affnet):
    return run_affnet


@pytest.fixture
def sales(affnet_app, affnet_client, affnet_network, affnet_clock):
    for day, sub in ((1, "fb"), (2, "tt"), (2, "fb")):
        affnet_clock.set(datetime(2026, 6, day, 9))
        clicked = click_id_of(click(affnet_app.test_client(), affnet_network.ref, s1=sub))
        affnet_clock.set(datetime(2026, 6, day, 10))
        assert (
            ingest(
                affnet_client,
                affnet_network,
                "conversion",
                sale_body(clicked, payment=f"pi_{day}_{sub}", user_ref=f"cus_{day}_{sub}"),
            ).status_code
            == 201
        )
    return affnet_network


def test_affnet_report_prints_a_table_with_a_total_and_a_summary(run, sales):
    code, output = run("report", "--group-by", "day", "--from", "2026-06-01", "--to", "2026-06-02")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["day", "clicks", "unique_clicks", "bot_clicks"]
    assert lines[2].split()[:2] == ["2026-06-01", "1"] and lines[3].split()[:2] == ["2026-06-02", "2"]
    assert lines[-2].split()[:2] == ["total", "3"]
    assert lines[-1].startswith("2 rows by day, 2026-06-01 to 2026-06-02 (UTC), whole network: 3 clicks, 3 sales")


def test_affnet_report_as_csv_is_the_report_function(run, sales):
    code, output = run(
        "report",
        "--group-by",
        "sub1",
        "--from",
        "2026-06-01",
        "--to",
        "2026-06-02",
        "--affiliate",
        "aff@example.com",
        "--offer",
        "susurra",
        "--csv",
    )
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    expected = build_report(
        "sub1", datetime(2026, 6, 1).date(), datetime(2026, 6, 2).date(), affiliate=sales.affiliate, offer=sales.offer
    )
    assert rows == [{key: str(value) for key, value in row.items()} for row in expected.flat_rows()]
    assert [(row["sub1"], row["sales"], row["commission_USD"]) for row in rows] == [
        ("fb", "2", "17.40"),
        ("tt", "1", "8.70"),
        ("total", "3", "26.10"),
    ]


def test_affnet_report_refuses_an_unknown_zone_or_offer(run, sales):
    code, output = run("report", "--tz", "Mars/Olympus")
    assert code == 2 and "Mars/Olympus" in output and "--tz" in output
    code, output = run("report", "--offer", "nope")
    assert code == 1 and "no offer 'nope'" in output


def test_affnet_tokens_create_prints_the_token_once_and_list_never_shows_it(run, affnet_network):
    code, output = run("tokens", "create", "--affiliate", "aff@example.com", "--name", "Keitaro")
    assert code == 0, output
    token = output.split(": ", 1)[1].split()[0]
    assert api_tokens.authenticate(token).name == "Keitaro"
    code, listed = run("tokens", "list", "--affiliate", "aff@example.com")
    assert "Keitaro" in listed and token[-4:] in listed and token not in listed
    row = ApiToken.get()
    code, output = run("tokens", "revoke", str(row.id))
    assert code == 0 and "revoked" in output
    assert api_tokens.authenticate(token) is None
    assert "REVOKED" in run("tokens", "list", "--affiliate", "aff@example.com")[1]


@pytest.fixture
def hostile_sub(affnet_app, affnet_client, affnet_network, affnet_clock):
    """A sale from a click whose s1 a visitor wrote: a spreadsheet formula
    with a terminal escape sequence in it."""
    from urllib.parse import quote

    affnet_clock.set(datetime(2026, 6, 1, 9))
    clicked = click_id_of(
        click(
            affnet_app.test_client(),
            affnet_network.ref,
            s1=quote('=HYPERLINK("https://evil.example/")\x1b[2J', safe=""),
        )
    )
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(clicked)).status_code == 201
    return affnet_network


def test_affnet_report_csv_writes_formula_like_text_as_text(run, hostile_sub):
    code, output = run("report", "--group-by", "sub1", "--from", "2026-06-01", "--to", "2026-06-01", "--csv")
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert rows[0]["sub1"] == "'" + '=HYPERLINK("https://evil.example/")\x1b[2J'
    assert rows[0]["commission_USD"] == "8.70"


def test_affnet_report_table_shows_a_visitors_control_characters_escaped(run, hostile_sub):
    code, output = run("report", "--group-by", "sub1", "--from", "2026-06-01", "--to", "2026-06-01")
    assert code == 0, output
    assert "\x1b" not in output and '=HYPERLINK("https://evil.example/")\\x1b[2J' in output


@pytest.mark.parametrize(
    "args, option",
    [
        (("--from", "9999-12-30", "--to", "9999-12-31"), "--to"),
        (("--from", "0001-01-01", "--to", "0001-01-02", "--tz", "Asia/Tokyo"), "--from"),
        (("--to", "0001-01-02", "--tz", "Asia/Tokyo"), "--from"),
    ],
)
def test_affnet_report_refuses_days_beyond_the_calendar_with_a_clear_error(run, affnet_network, args, option):
    code, output = run("report", *args)
    assert code == 2 and option in output and "0001-01-02 to 9999-12-30" in output, output


def test_affnet_report_to_an_early_day_starts_on_the_first_day_there_is(run, affnet_network):
    code, output = run("report", "--to", "0001-01-03")
    assert code == 0, output
    assert "3 rows by day, 0001-01-01 to 0001-01-03 (UTC)" in output
