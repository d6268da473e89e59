"""Network policies: saved in the database over the config file's value, read from memory for
``cache_seconds``, never a query on the click path of a known ref, never a failed redirect while the
database is down, and followed by the worker's payout schedule without a restart."""

from contextlib import contextmanager
from datetime import datetime

import pytest
from peewee import OperationalError

from affnet.config import load_settings
from affnet.core.network import policy
from affnet.core.storage import cache
from affnet.core.storage.db import db
from affnet.core.storage.models import AuditEntry, NetworkSetting

FILE_FALLBACK = "https://file.example/"


@pytest.fixture
def affnet_config():
    return {"cache_seconds": 60, "tracking.fallback_url": FILE_FALLBACK}


@pytest.fixture
def settings(affnet_services):
    return affnet_services.settings


@contextmanager
def counted_queries(monkeypatch):
    """Counts the statements the database is asked."""
    asked = []
    real = db.obj.execute_sql

    def counting(sql, *args, **kwargs):
        asked.append(sql)
        return real(sql, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(db.obj, "execute_sql", counting)
        yield asked


@contextmanager
def database_down(monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(db.obj, "execute_sql", fail)
        patch.setattr(db.obj, "_connect", fail)
        patch.setattr(cache, "RETRY_SECONDS", 0)
        yield


class Later:
    """``time.monotonic`` of the caches, moved on by hand."""

    def __init__(self, real):
        self.real, self.ahead = real, 0.0

    def monotonic(self):
        return self.real.monotonic() + self.ahead


def test_a_saved_policy_overrides_the_files_value_at_once_on_this_server(settings):
    assert settings["payouts.mode"] == "review"
    assert policy.save(settings, {"payouts.mode": "auto", "payouts.minimum": "50"}) == ["payouts.mode"]
    assert settings["payouts.mode"] == "auto"
    assert settings.file_value("payouts.mode") == "review"
    assert NetworkSetting.get().value == "auto"  # as written in the config file


def test_a_policy_is_read_from_memory_within_cache_seconds(settings, monkeypatch):
    policy.save(settings, {"payouts.minimum": "75"})
    settings["payouts.minimum"]
    with counted_queries(monkeypatch) as asked:
        for _ in range(100):
            assert str(settings["payouts.minimum"]) == "75"
    assert asked == []


def test_a_policy_saved_on_another_server_is_seen_after_cache_seconds(settings, monkeypatch):
    assert settings["payouts.weekday"] == "monday"
    NetworkSetting.create(key="payouts.weekday", value="friday")  # another server's save
    assert settings["payouts.weekday"] == "monday"
    later = Later(cache.time)
    monkeypatch.setattr(cache, "time", later)
    later.ahead = 61
    assert settings["payouts.weekday"] == "friday"


def test_a_known_ref_reads_no_policy_on_the_click_path(affnet_client, affnet_network, settings, monkeypatch):
    asked = []
    overlay = settings._overlay
    monkeypatch.setattr(settings, "_overlay", lambda key: asked.append(key) or overlay(key))
    for _ in range(5):  # the answer only: loading the spool later reads the click limit, off the click path
        assert affnet_client.get(f"/r?ref={affnet_network.ref}").status_code == 302
    assert asked == []
    assert affnet_client.get("/r?ref=NoSuchRef").headers["Location"] == FILE_FALLBACK
    assert asked == ["tracking.fallback_url"]


def test_the_saved_fallback_still_answers_while_the_database_is_down(affnet_client, settings, monkeypatch):
    policy.save(settings, {"tracking.fallback_url": "https://saved.example/"})
    assert affnet_client.get("/r?ref=NoSuchRef").headers["Location"] == "https://saved.example/"
    monkeypatch.setattr(policy._saved, "seconds", 0)  # every read would ask the database
    with database_down(monkeypatch):
        for _ in range(3):
            answer = affnet_client.get("/r?ref=NoSuchRef")
            assert (answer.status_code, answer.headers["Location"]) == (302, "https://saved.example/")


def test_the_files_fallback_answers_when_the_database_was_never_read_and_is_down(affnet_client, monkeypatch):
    policy._saved.forget()  # a process that has not read the policies yet
    with database_down(monkeypatch):
        answer = affnet_client.get("/r?ref=NoSuchRef")
    assert (answer.status_code, answer.headers["Location"]) == (302, FILE_FALLBACK)


def test_a_bad_value_is_refused_with_the_parsers_words_and_nothing_is_written(settings):
    with pytest.raises(policy.PolicyError) as refused:
        policy.save(settings, {"payouts.mode": "auto", "payouts.time": "25:00", "payouts.minimums": "JPY:7000"})
    assert refused.value.fields == {
        "payouts.time": "expected a time of day such as 10:00",
        "payouts.minimums": "expected CURRENCY=AMOUNT pairs such as JPY=7000, EUR=40",
    }
    assert NetworkSetting.select().count() == 0
    assert AuditEntry.select().count() == 0
    assert settings["payouts.mode"] == "review"


def test_a_server_key_cannot_be_saved_as_a_policy(settings):
    with pytest.raises(policy.PolicyError):
        policy.save(settings, {"database_url": "sqlite:///elsewhere.db"})
    with pytest.raises(policy.PolicyError):
        policy.reset(settings, "base_url")
    assert NetworkSetting.select().count() == 0


def test_resetting_puts_the_files_value_back_and_is_audited(settings):
    policy.save(settings, {"payouts.minimums": "JPY=7000, EUR=40"})
    assert policy.reset(settings, "payouts.minimums") is True
    assert settings["payouts.minimums"] == {}
    assert policy.reset(settings, "payouts.minimums") is False
    saved, reset = [entry.changes for entry in AuditEntry.select().order_by(AuditEntry.id)]
    assert saved == {"payouts.minimums": {"old": "", "new": "JPY=7000, EUR=40"}}
    assert reset["payouts.minimums"] == {"old": "JPY=7000, EUR=40", "new": ""}


def test_a_saved_value_its_parser_now_refuses_is_ignored(settings):
    NetworkSetting.create(key="payouts.mode", value="sometimes")
    policy._saved.forget()
    assert settings["payouts.mode"] == "review"


def test_server_keys_are_described_with_their_origin_and_a_masked_password(tmp_path):
    path = tmp_path / "affnet.toml"
    path.write_text('database_url = "postgresql://affnet:s3cret@db.example/affnet"\n[server]\nport = 9000\n')
    settings = load_settings(path, environ={"AFFNET_LOG_LEVEL": "debug"})
    shown = {row["key"]: row for row in policy.server_settings(settings)}
    assert shown["database_url"]["value"] == "postgresql://affnet:***@db.example/affnet"
    assert (shown["server.port"]["origin"], shown["log_level"]["origin"]) == ("file", "environment")
    assert shown["base_url"]["origin"] == "default"
    assert not set(shown) & set(policy.POLICY_KEYS)


def test_the_worker_follows_a_changed_payout_day_and_time_without_a_restart(affnet_worker, settings):
    assert affnet_worker.follow_payout_schedule() == ("monday", "10:00")
    policy.save(settings, {"payouts.weekday": "friday", "payouts.time": "18:30"})
    assert affnet_worker.follow_payout_schedule() == ("friday", "18:30")
    runs = [job for job in affnet_worker.scheduler.jobs if job.job_func.args == (affnet_worker.payout_run,)]
    assert len(runs) == 1
    assert (runs[0].next_run.weekday(), runs[0].next_run.strftime("%H:%M")) == (4, "18:30")
    assert runs[0].next_run > datetime.now()


def test_the_operators_guide_names_every_network_policy():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operators.md").read_text()
    section = guide.split("## Network settings: the page or the config file", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    assert {key for key in policy.POLICY_KEYS if not any(f"`{key}`" in line for line in table)} == set()


def test_every_policy_is_a_key_of_the_config_file():
    from affnet.config import FIELDS_BY_KEY

    assert [key for key in policy.POLICY_KEYS if key not in FIELDS_BY_KEY] == []
