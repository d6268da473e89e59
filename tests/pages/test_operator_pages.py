"""The operator's pages: network policies saved over the config file, users, offers, participations,
deliveries across the network with retries, plugins and health; every change in the audit log."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import affnet_echo_test.plugin as echo
import pytest

from affnet.core import clock
from affnet.core.deliveries import setting_versions
from affnet.core.network import accounts, users
from affnet.core.storage.models import (
    AuditEntry,
    Delivery,
    LedgerEntry,
    NetworkSetting,
    Participation,
    PayoutRun,
    User,
    WorkerHeartbeat,
)
from affnet.testing import FakeReceiver, click, click_id_of, ingest, sale_body

from .conftest import PASSWORD, log_in, post_form

FILE_FALLBACK = "https://file.example/offers"


@pytest.fixture
def affnet_plugins():
    return [("echo_test", echo)]


@pytest.fixture
def affnet_config():
    return {"deliveries.allow_private_targets": True, "tracking.fallback_url": FILE_FALLBACK}


@pytest.fixture
def operator(browser, people):
    log_in(browser, "root@example.com")
    return browser


def _policies(browser, **changes) -> dict:
    """The settings form as the page fills it, with ``changes`` (``payouts__mode="auto"``)."""
    page = browser.get("/admin/settings").get_data(as_text=True)
    values = {}
    for name, value in re.findall(r'<input[^>]* id="([a-z_]+__[a-z_]+)"[^>]* value="([^"]*)"', page):
        values[name] = value
    for name in re.findall(r'<select[^>]* id="([a-z_]+__[a-z_]+)"', page):
        chosen = re.search(rf'<select[^>]* id="{name}".*?<option selected value="([^"]*)"', page, re.S)
        values[name] = chosen.group(1)
    return {**values, **changes}


def save_policies(browser, **changes):
    return post_form(browser, "/admin/settings", {**_policies(browser, **changes), "save": "Save"})


def test_a_policy_saved_on_the_page_overrides_the_file_and_the_payout_run_reads_it(operator, affnet_services):
    LedgerEntry.create(affiliate=User.get(User.email == "aff@example.com"), currency="USD", amount=Decimal("20"),
                       kind="commission", available_at=clock.now() - timedelta(days=1))  # fmt: skip
    assert save_policies(operator, payouts__mode="auto", payouts__minimum="10").status_code == 302
    assert affnet_services.settings["payouts.mode"] == "auto"
    assert affnet_services.settings.file_value("payouts.mode") == "review"
    post_form(operator, "/admin/payouts/run", {}, form_path="/admin/payouts")
    run = PayoutRun.get()
    assert run.mode == "auto"
    assert [skip["reason"] for skip in run.skipped] == ["no payout method set"]  # 20 is over the saved minimum
    page = operator.get("/admin/settings").get_data(as_text=True)
    assert "saved on this page" in page


def test_a_policy_saved_on_the_page_lets_a_sign_up_log_in_at_once(operator, affnet_app):
    save_policies(operator, accounts__auto_approve_affiliates="true")
    visitor = affnet_app.test_client()
    form = {"name": "New", "email": "new@example.com", "password": PASSWORD, "confirm": PASSWORD}
    answer = post_form(visitor, "/signup", form)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/dashboard")
    assert User.get(User.email == "new@example.com").approved_at is not None


def test_the_fallback_url_saved_on_the_page_takes_an_unknown_ref(operator, affnet_app):
    visitor = affnet_app.test_client()
    assert visitor.get("/r?ref=NoSuchRef").headers["Location"] == FILE_FALLBACK
    save_policies(operator, tracking__fallback_url="https://saved.example/more-offers")
    assert visitor.get("/r?ref=NoSuchRef").headers["Location"] == "https://saved.example/more-offers"


def test_a_bad_value_is_refused_with_the_parsers_message_and_nothing_is_written(operator, affnet_services):
    answer = save_policies(operator, payouts__time="25:00", payouts__mode="auto")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "expected a time of day such as 10:00" in page and "Nothing was saved" in page
    assert NetworkSetting.select().count() == 0
    assert AuditEntry.select().where(AuditEntry.action == "network.setting").count() == 0
    assert affnet_services.settings["payouts.mode"] == "review"


def test_putting_the_files_value_back_deletes_the_saved_one(operator, affnet_app, affnet_services):
    save_policies(operator, tracking__fallback_url="https://saved.example/")
    answer = post_form(operator, "/admin/settings/reset", {"key": "tracking.fallback_url"}, form_path="/admin/settings")
    assert answer.status_code == 302
    assert NetworkSetting.select().count() == 0
    assert affnet_services.settings["tracking.fallback_url"] == FILE_FALLBACK
    assert affnet_app.test_client().get("/r?ref=NoSuchRef").headers["Location"] == FILE_FALLBACK
    changes = [entry.changes for entry in AuditEntry.select().where(AuditEntry.action == "network.setting")]
    assert changes[0]["tracking.fallback_url"] == {"old": FILE_FALLBACK, "new": "https://saved.example/"}
    assert changes[1]["tracking.fallback_url"] == {"old": "https://saved.example/", "new": FILE_FALLBACK}


def test_server_keys_are_shown_read_only_and_the_database_password_is_not_on_any_page(
    operator, affnet_settings, monkeypatch
):
    url = "postgresql://affnet:s3cret-pass@db.example:5432/affnet"
    monkeypatch.setitem(affnet_settings._values, "database_url", url)
    page = operator.get("/admin/settings").get_data(as_text=True)
    assert "postgresql://affnet:***@db.example:5432/affnet" in page
    assert "s3cret-pass" not in page
    assert 'name="database_url"' not in page and 'name="server__port"' not in page
    assert 'name="payouts__mode"' in page
    assert "s3cret-pass" not in operator.get("/admin").get_data(as_text=True)


def test_an_approved_sign_up_can_log_in(operator, affnet_app):
    users.sign_up("late@example.com", PASSWORD, "Late")
    visitor = affnet_app.test_client()
    assert log_in(visitor, "late@example.com").status_code == 401
    page = operator.get("/admin/users?state=waiting").get_data(as_text=True)
    assert "late@example.com" in page and "aff@example.com" not in page
    late = User.get(User.email == "late@example.com")
    answer = post_form(operator, f"/admin/users/{late.id}/approve", {}, form_path="/admin/users")
    assert answer.status_code == 302
    assert log_in(visitor, "late@example.com").status_code == 302


def test_the_waiting_sign_ups_are_listed_first(operator):
    users.sign_up("zz-waiting@example.com", PASSWORD, "Waiting")
    page = operator.get("/admin/users").get_data(as_text=True)
    assert page.index("zz-waiting@example.com") < page.index("aff@example.com")


def test_deactivating_an_account_ends_its_sessions_and_reactivating_lets_it_back(operator, affnet_app, people):
    theirs = affnet_app.test_client()
    log_in(theirs, "aff@example.com")
    assert theirs.get("/dashboard").status_code == 200
    target = people["affiliate"].id
    post_form(operator, f"/admin/users/{target}/deactivate", {}, form_path="/admin/users")
    assert theirs.get("/dashboard").status_code == 302
    assert log_in(theirs, "aff@example.com").status_code == 401
    post_form(operator, f"/admin/users/{target}/reactivate", {}, form_path="/admin/users")
    assert log_in(theirs, "aff@example.com").status_code == 302


def test_the_operator_changes_a_role(operator, people):
    target = people["other"]
    post_form(operator, f"/admin/users/{target.id}/role", {"role": "advertiser"}, form_path="/admin/users")
    assert User.get_by_id(target.id).role == "advertiser"


def test_the_operator_can_neither_demote_nor_deactivate_themself(operator, people):
    me = people["admin"]
    demoted = post_form(operator, f"/admin/users/{me.id}/role", {"role": "affiliate"}, form_path="/admin/users")
    assert "You cannot change your own role" in operator.get(demoted.headers["Location"]).get_data(as_text=True)
    gone = post_form(operator, f"/admin/users/{me.id}/deactivate", {}, form_path="/admin/users")
    assert "You cannot deactivate your own account" in operator.get(gone.headers["Location"]).get_data(as_text=True)
    me = User.get_by_id(me.id)
    assert (me.role, me.is_active) == ("admin", True)
    assert operator.get("/admin").status_code == 200


def test_a_password_reset_link_is_shown_once_and_works(operator, affnet_app, people):
    target = people["other"]
    answer = post_form(operator, f"/admin/users/{target.id}/reset-link", {}, form_path="/admin/users")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    link = re.search(r'value="(http[^"]+/reset/([^"]+))"', page)
    token = link.group(2)
    assert "It works until" in page
    assert token not in operator.get("/admin/users").get_data(as_text=True)
    with operator.session_transaction() as session:
        assert token not in repr(dict(session))
    visitor = affnet_app.test_client()
    path = f"/reset/{token}"
    assert visitor.get(path).status_code == 200
    set_it = post_form(visitor, path, {"password": "another-password-7", "confirm": "another-password-7"})
    assert set_it.status_code == 302
    assert log_in(visitor, "other@example.com", "another-password-7").status_code == 302
    assert visitor.get(path).status_code == 410  # it worked once


def test_every_offer_of_every_owner_is_listed_with_its_participations_and_owner_pages(operator, affnet_network):
    second, _ = accounts.create_user("owner2@example.com", "advertiser")
    accounts.create_offer(second, "Calma", "https://calma.example/")
    page = operator.get("/admin/offers").get_data(as_text=True)
    assert "Susurra" in page and "Calma" in page and "owner2@example.com" in page
    assert 'href="/owner/offers/susurra"' in page and 'href="/owner/offers/calma"' in page
    assert re.search(r">2<br><small>approved: 2</small>", page)


def test_participations_are_approved_paused_resumed_and_rejected_with_a_note(operator, affnet_network, people):
    newcomer, _ = accounts.create_user("new-aff@example.com", "affiliate")
    waiting = accounts.apply(newcomer, affnet_network.offer)
    page = operator.get("/admin/participations?status=pending").get_data(as_text=True)
    assert waiting.ref_code in page and affnet_network.ref not in page
    path = f"/admin/participations/{waiting.id}/status"
    steps = [("approved", ""), ("paused", "traffic check"), ("approved", ""), ("rejected", "brand bidding")]
    for status, note in steps:
        answer = post_form(operator, path, {"status": status, "note": note}, form_path="/admin/participations")
        assert answer.status_code == 302
        assert Participation.get_by_id(waiting.id).status == status
    assert Participation.get_by_id(waiting.id).decision_note == "brand bidding"
    assert click(operator, waiting.ref_code).status_code == 302  # rejected: the fallback, not the landing
    assert click(operator, waiting.ref_code).headers["Location"] == FILE_FALLBACK


def _failing_deliveries(affnet_network, people, worker, failing, other):
    """Two sales sent to ``failing`` (127.0.0.1) and one to ``other`` (localhost), each attempted once and
    answered 500."""
    setting_versions.save(echo.KIND, people["affiliate"], {"url": f"{failing.base}/hook"})
    other_url = other.base.replace("127.0.0.1", "localhost")
    setting_versions.save(echo.KIND, people["other"], {"url": f"{other_url}/hook"})
    for payment in ("pi_1", "pi_2"):
        click_id = click_id_of(click(worker.app.test_client(), affnet_network.ref))
        ingest(worker.app.test_client(), affnet_network, "conversion", sale_body(click_id, payment=payment))
    other_ref = people["other_participation"].ref_code
    click_id = click_id_of(click(worker.app.test_client(), other_ref))
    ingest(worker.app.test_client(), affnet_network, "conversion", sale_body(click_id, payment="pi_3"))
    worker.run_once()
    assert Delivery.select().where(Delivery.attempts == 1, Delivery.status == "pending").count() == 3


def test_failing_hosts_come_first_with_their_last_error_and_retry_all_makes_the_worker_send_them(
    operator, affnet_network, people, affnet_worker
):
    with FakeReceiver([(500, {}, "down")]) as failing, FakeReceiver([(500, {}, "down")]) as other:
        _failing_deliveries(affnet_network, people, affnet_worker, failing, other)
        page = operator.get("/admin/deliveries").get_data(as_text=True)
        assert page.index("127.0.0.1") < page.index("localhost")  # two failing there, one here
        assert "HTTP 500" in page
        host_page = operator.get("/admin/deliveries/127.0.0.1").get_data(as_text=True)
        assert host_page.count("Retry this one") == 2
        failing.answer_next((200, {}, "ok"), (200, {}, "ok"))
        before = len(failing.requests)
        answer = post_form(operator, "/admin/deliveries/127.0.0.1/retry", {}, form_path="/admin/deliveries")
        assert answer.status_code == 302
        due = Delivery.select().where(Delivery.next_attempt_at <= clock.now(), Delivery.status == "pending")
        assert due.count() == 2
        affnet_worker.run_once()
        assert len(failing.requests) == before + 2
        assert len(other.requests) == 1  # localhost's waits for its own time
    assert Delivery.select().where(Delivery.status == "sent").count() == 2
    entry = AuditEntry.get(AuditEntry.action == "delivery.retry")
    assert entry.changes == {"host": {"new": "127.0.0.1"}, "count": {"new": 2}}


def test_a_delivery_failed_for_good_comes_back_and_is_sent(operator, affnet_network, people, affnet_worker):
    with FakeReceiver([(500, {}, "down")]) as failing, FakeReceiver([(500, {}, "down")]) as other:
        _failing_deliveries(affnet_network, people, affnet_worker, failing, other)
        gone = Delivery.select().order_by(Delivery.id).first()
        Delivery.update(status="failed").where(Delivery.id == gone.id).execute()
        page = operator.get("/admin/deliveries").get_data(as_text=True)
        assert re.search(r"Failed for good</dt><dd>1<", page)
        failing.answer_next((200, {}, "ok"))
        answer = post_form(operator, f"/admin/deliveries/{gone.id}/retry", {}, form_path="/admin/deliveries")
        assert answer.status_code == 302
        assert Delivery.get_by_id(gone.id).status == "pending"
        affnet_worker.run_once()
    assert Delivery.get_by_id(gone.id).status == "sent"


def test_the_worker_queue_is_counted(operator, affnet_network, people, affnet_worker):
    with FakeReceiver([(500, {}, "down")]) as failing, FakeReceiver([(500, {}, "down")]) as other:
        _failing_deliveries(affnet_network, people, affnet_worker, failing, other)
    page = operator.get("/admin/deliveries").get_data(as_text=True)
    assert re.search(r"Scheduled later \(waiting to retry\)</dt><dd>3<", page)
    assert re.search(r"Due now</dt><dd>0<", page)


def test_health_shows_a_stale_heartbeat_and_the_oldest_undelivered_postback_as_warnings(
    operator, affnet_network, people, affnet_worker
):
    page = operator.get("/admin").get_data(as_text=True)
    assert "No worker has ever beaten" in page
    affnet_worker.beat()
    page = operator.get("/admin").get_data(as_text=True)
    assert re.search(r'id="check-worker">Worker <strong class="state ok">OK', page)
    WorkerHeartbeat.update(beat_at=clock.now() - timedelta(minutes=5)).execute()
    with FakeReceiver([(500, {}, "down")]) as failing, FakeReceiver([(500, {}, "down")]) as other:
        _failing_deliveries(affnet_network, people, affnet_worker, failing, other)
    WorkerHeartbeat.update(beat_at=clock.now() - timedelta(minutes=5)).execute()
    oldest = Delivery.select().order_by(Delivery.id).first()
    Delivery.update(created_at=clock.now() - timedelta(hours=3)).where(Delivery.id == oldest.id).execute()
    page = operator.get("/admin").get_data(as_text=True)
    assert re.search(r'id="check-worker">Worker <strong class="state warning">Warning', page)
    assert "Last heartbeat 5 minutes ago" in page
    assert re.search(r'id="check-deliveries">Oldest undelivered postback <strong class="state warning">', page)
    assert f"Delivery {oldest.id} (echo_test), made 3 hours ago" in page


def test_the_plugins_page_lists_the_bundled_plugins_with_their_versions(operator):
    from importlib.metadata import version

    page = operator.get("/admin/plugins").get_data(as_text=True)
    for name, dist in (
        ("keitaro", "affnet-keitaro"),
        ("fb_capi", "affnet-fb-capi"),
        ("payout_usdt", "affnet-payout-usdt"),
    ):
        row = re.search(rf'<th scope="row">{name}</th>\s*<td data-label="Version">([^<]+)</td>', page)
        assert row and row.group(1) == version(dist)


def test_every_change_is_in_the_audit_log_with_the_operator_and_the_address(operator, people, affnet_network):
    target = people["other"]
    post_form(operator, f"/admin/users/{target.id}/role", {"role": "advertiser"}, form_path="/admin/users")
    post_form(operator, f"/admin/users/{target.id}/deactivate", {}, form_path="/admin/users")
    post_form(operator, f"/admin/users/{target.id}/reset-link", {}, form_path="/admin/users")
    path = f"/admin/participations/{affnet_network.participation.id}/status"
    post_form(operator, path, {"status": "paused", "note": ""}, form_path="/admin/participations")
    save_policies(operator, payouts__weekday="friday")
    post_form(operator, "/admin/settings/reset", {"key": "payouts.weekday"}, form_path="/admin/settings")
    mine = AuditEntry.select().where(AuditEntry.actor == people["admin"].id)
    actions = sorted(entry.action for entry in mine)
    assert actions == ["network.setting", "network.setting", "participation.status", "user.active",
                       "user.reset_link", "user.role"]  # fmt: skip
    assert {entry.ip for entry in mine} == {"127.0.0.1"}


def test_the_operator_resets_someones_two_factor_log_in(operator, people, affnet_app):
    target = people["advertiser"]
    User.update(totp_secret="not-a-real-secret", totp_enabled_at=clock.now()).where(User.id == target.id).execute()
    theirs = affnet_app.test_client()
    page = operator.get("/admin/users?role=advertiser").get_data(as_text=True)
    assert f"/admin/users/{target.id}/two-factor-reset" in page
    answer = post_form(operator, f"/admin/users/{target.id}/two-factor-reset", {}, form_path="/admin/users")
    assert answer.status_code == 302
    assert User.get_by_id(target.id).totp_enabled_at is None
    assert log_in(theirs, "owner@example.com").status_code == 302  # the password alone, no code step
    entry = AuditEntry.get(AuditEntry.action == "two_factor.reset")
    assert (entry.actor_id, entry.ip) == (people["admin"].id, "127.0.0.1")


def test_health_warns_of_a_weekly_run_that_was_due_and_is_missing(affnet_services):
    from affnet.core import health

    monday_noon, friday = datetime(2026, 12, 7, 12, 0), datetime(2026, 12, 11, 9, 0)  # the run is Monday 10:00
    assert health.payouts_check(affnet_services.settings, monday_noon, monday_noon).ok  # a new network: no fault
    PayoutRun.create(week="2026-W48", mode="review")
    missing = health.payouts_check(affnet_services.settings, friday, friday)
    assert (missing.ok, missing.facts["missed"], missing.facts["week"]) == (False, True, "2026-W50")
    PayoutRun.create(week="2026-W50", mode="review")
    assert health.payouts_check(affnet_services.settings, friday, friday).ok
