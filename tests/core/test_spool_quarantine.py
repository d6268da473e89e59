"""One spool line the database refuses never holds back another click: it is
set aside (quarantined), reported, and loadable after a fix."""

import json
import logging
import subprocess
import sys

import pytest
from peewee import OperationalError

from affnet.core.clicks import spool as spool_module
from affnet.core.storage.models import Click
from affnet.testing import click, click_id_of, ingest, sale_body


def good_line(network, click_id, **values) -> bytes:
    row = {
        "click_id": click_id,
        "created_at": "2026-06-01T12:00:00",
        "participation": network.participation.id,
        "offer": network.offer.id,
        "affiliate": network.affiliate.id,
        "is_unique": True,
        "is_bot": False,
        **values,
    }
    return (json.dumps(row) + "\n").encode()


def click_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:03d}".ljust(22, "x") for n in range(count)]


@pytest.fixture
def spool(affnet_app):
    return affnet_app.extensions["affnet"].spool


def write_ready(spool, name: str, lines: list[bytes]):
    spool.directory.mkdir(parents=True, exist_ok=True)
    path = spool.directory / f"clicks-{spool.host}-{name}.ready"
    path.write_bytes(b"".join(lines))
    return path


def stored_ids() -> set[str]:
    return {row.click_id for row in Click.select(Click.click_id)}


BAD_LINES = {
    "lone surrogate": lambda network: good_line(network, "bad-surrogate".ljust(22, "x")).replace(
        b'"is_bot"', b'"s2": "a\\ud800b", "is_bot"'
    ),
    "not JSON": lambda network: b'{"click_id": "garbage\n',
    "not an object": lambda network: b'[1, 2, 3]\n',
    "bad created_at": lambda network: good_line(network, "bad-created".ljust(22, "x"), created_at="yesterday"),
    "no created_at": lambda network: good_line(network, "no-created".ljust(22, "x")).replace(
        b'"created_at": "2026-06-01T12:00:00", ', b""
    ),
}


def test_a_refused_line_is_set_aside_and_every_other_click_is_loaded_in_the_same_round(spool, affnet_network):
    """On both databases: files claimed before and after the bad one, and the
    good lines around the bad ones in the same file, are all stored."""
    before = click_ids("before", 3)
    mixed = click_ids("mixed", 4)
    after = click_ids("after", 3)
    bad = [make(affnet_network) for make in BAD_LINES.values()]
    write_ready(spool, "1-1-1", [good_line(affnet_network, cid) for cid in before])
    middle = [
        good_line(affnet_network, mixed[0]),
        bad[0],
        good_line(affnet_network, mixed[1]),
        *bad[1:],
        good_line(affnet_network, mixed[2]),
        good_line(affnet_network, mixed[3]),
    ]
    write_ready(spool, "2-2-2", middle)
    write_ready(spool, "3-3-3", [good_line(affnet_network, cid) for cid in after])

    assert spool.load_ready() == 10
    assert stored_ids() == set(before + mixed + after)
    quarantined = spool.quarantined()
    assert [path.name for path in quarantined] == [f"clicks-{spool.host}-2-2-2.jsonl"]
    assert quarantined[0].read_bytes() == b"".join(bad), "exactly the refused lines, as they were read"
    assert quarantined[0].stat().st_mode & 0o777 == 0o600
    assert [p.name for p in spool.directory.iterdir()] == ["quarantine"], "no file is left claimed"


def test_a_click_with_a_nul_from_an_older_version_is_loaded_without_it(spool, affnet_network):
    """PostgreSQL refuses NUL in text; the loader cleans it as the click path does."""
    click_id = "nul-click".ljust(22, "x")
    write_ready(spool, "1-1-1", [good_line(affnet_network, click_id, s2="a\u0000b", fbclid="\u0000")])
    assert spool.load_ready() == 1
    stored = Click.get(Click.click_id == click_id)
    assert (stored.s2, stored.fbclid) == ("ab", None)
    assert spool.quarantined() == []


def test_setting_a_file_aside_logs_one_error_line_naming_the_quarantine_file(spool, affnet_network, caplog):
    write_ready(spool, "1-1-1", [b"not json\n", good_line(affnet_network, "ok".ljust(22, "x"))])
    with caplog.at_level(logging.ERROR, logger="affnet.spool"):
        spool.load_ready()
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "1 of 2 lines set aside" in errors[0] and str(spool.quarantined()[0]) in errors[0]
    assert "\n" not in errors[0] and "\r" not in errors[0]


def test_quarantined_lines_load_after_they_are_fixed(spool, affnet_network):
    click_id = "later".ljust(22, "x")
    write_ready(spool, "1-1-1", [good_line(affnet_network, click_id, created_at="01/06/2026 12:00")])
    spool.load_ready()
    [kept] = spool.quarantined()
    assert spool.load_quarantined() == (0, 1), "still refused: stays set aside"
    assert kept.exists()
    kept.write_bytes(kept.read_bytes().replace(b"01/06/2026 12:00", b"2026-06-01T12:00:00"))  # the fix
    assert spool.load_quarantined() == (1, 0)
    assert click_id in stored_ids() and not kept.exists()


def test_a_file_stays_claimed_and_is_not_set_aside_while_the_database_is_down(spool, affnet_network, monkeypatch):
    click_id = "waiting".ljust(22, "x")
    write_ready(spool, "1-1-1", [good_line(affnet_network, click_id)])

    def database_down(rows):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(spool_module, "insert_clicks", database_down)
    with pytest.raises(OperationalError):
        spool.load_ready()
    assert spool.quarantined() == []
    [left] = [p for p in spool.directory.iterdir() if p.is_file()]
    assert ".claimed-" in left.name
    monkeypatch.undo()
    assert spool.load_ready() == 1, "the next round loads it"
    assert click_id in stored_ids()


def test_a_file_claimed_by_a_process_that_died_is_loaded(spool, affnet_network):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(finished.stdout)
    click_id = "orphan".ljust(22, "x")
    path = write_ready(spool, "1-1-1", [good_line(affnet_network, click_id)])
    path.rename(path.with_name(path.name + f".claimed-{dead}"))
    assert spool.load_ready() == 1
    assert click_id in stored_ids()


def test_spool_status_counts_files_and_lines_in_each_state(spool, affnet_network, affnet_client):
    click(affnet_client, affnet_network.ref)  # loaded: nothing waits
    write_ready(spool, "1-1-1", [good_line(affnet_network, "a".ljust(22, "x")), b"junk\n"])
    spool.load_ready()
    write_ready(spool, "2-2-2", [good_line(affnet_network, "b".ljust(22, "x"))])
    status = spool.status()
    assert status["ready"] == {"files": 1, "lines": 1}
    assert status["quarantined"] == {"files": 1, "lines": 1}
    assert status["claimed"] == status["open"] == {"files": 0, "lines": 0}


def test_affnet_spool_commands_report_and_load_the_quarantine(affnet_network, spool, run_affnet):
    click_id = "cli".ljust(22, "x")
    write_ready(spool, "1-1-1", [good_line(affnet_network, click_id, created_at="noon")])
    spool.load_ready()
    code, output = run_affnet("spool", "status", "--json")
    assert code == 0, output
    assert json.loads(output)["quarantined"] == {"files": 1, "lines": 1}
    code, output = run_affnet("spool", "load-quarantined")
    assert code == 1 and "0 loaded, 1 still refused" in output
    [kept] = spool.quarantined()
    kept.write_bytes(kept.read_bytes().replace(b'"noon"', b'"2026-06-01T12:00:00"'))
    code, output = run_affnet("spool", "load-quarantined", str(kept))
    assert code == 0 and "1 loaded, 0 still refused" in output
    assert click_id in stored_ids()


def test_a_nul_in_any_click_value_is_stored_without_it_and_holds_nothing_back(affnet_client, affnet_network):
    """The reported fault: /r?ref=…&s2=a%00b answered 302 and then its spool
    file failed to load on PostgreSQL on every round."""
    bad = click(affnet_client, affnet_network.ref, s2="a%00b", fbclid="%00", clickid="x%00")
    good = click(affnet_client, affnet_network.ref, s1="after")
    assert bad.status_code == good.status_code == 302
    stored = Click.get(Click.click_id == click_id_of(bad))
    assert (stored.s2, stored.fbclid, stored.clickid) == ("ab", None, "x")
    sale = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id_of(good)))
    assert sale.get_json()["attributed"] is True
