"""Two-factor log-in on the pages: the code page after the password, set-up with a QR code drawn here,
recovery codes shown once, turning it off, the network's requirement for admins and product owners,
and the operator's reset."""

import re
import socket
from datetime import datetime

import pytest

from affnet.core.network import two_factor
from affnet.core.storage.models import AuditEntry, User
from affnet.testing.helpers import totp_code

from .conftest import PASSWORD, csrf_of, log_in, post_form

START = datetime(2026, 6, 1, 12, 0, 10)
REQUIRED = [{"accounts.require_two_factor": True}]


@pytest.fixture
def clock(affnet_clock):
    affnet_clock.set(START)
    return affnet_clock


def turn_on(email: str, clock) -> tuple[str, list[str]]:
    """Two-factor log-in on for the account; the clock moves on a step, so the next code is fresh."""
    user = User.get(User.email == email)
    secret = two_factor.start(user)
    codes = two_factor.confirm(user, totp_code(secret))
    clock.advance(seconds=30)
    return secret, codes


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def send_code(client, code: str, path: str = "/login/code"):
    return post_form(client, path, {"code": code})


def test_the_log_in_stops_at_the_code_page_until_the_code_is_right(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    response = log_in(browser, "aff@example.com")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    assert browser.get("/dashboard").status_code == 302, "no session before the code"
    assert "/login" in browser.get("/dashboard").headers["Location"]
    assert User.get(User.email == "aff@example.com").last_login_at is None
    response = send_code(browser, totp_code(secret))
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert browser.get("/dashboard").status_code == 200


def test_an_account_without_two_factor_logs_in_with_its_password_alone(browser, people, clock):
    assert log_in(browser, "aff@example.com").headers["Location"].endswith("/dashboard")


def test_a_wrong_code_is_refused_and_says_so(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    response = send_code(browser, wrong(totp_code(secret)))
    assert response.status_code == 401 and "That code is not right." in response.get_data(as_text=True)
    assert browser.get("/dashboard").status_code == 302


def test_a_code_used_once_does_not_log_in_again(affnet_app, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    code = totp_code(secret)
    first, second = affnet_app.test_client(), affnet_app.test_client()
    log_in(first, "aff@example.com")
    log_in(second, "aff@example.com")
    assert send_code(first, code).status_code == 302
    assert send_code(second, code).status_code == 401
    assert second.get("/dashboard").status_code == 302


def test_a_recovery_code_logs_in_once_and_says_how_many_are_left(affnet_app, people, clock):
    _, codes = turn_on("aff@example.com", clock)
    first = affnet_app.test_client()
    log_in(first, "aff@example.com")
    response = send_code(first, codes[0].upper())
    assert response.status_code == 302
    assert "9 recovery codes are left" in first.get("/dashboard").get_data(as_text=True)
    second = affnet_app.test_client()
    log_in(second, "aff@example.com")
    assert send_code(second, codes[0]).status_code == 401


def test_the_page_asked_for_before_the_log_in_is_reached_after_the_code(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    token = csrf_of(browser, "/login?next=/stats")
    response = browser.post(
        "/login?next=/stats", data={"csrf_token": token, "email": "aff@example.com", "password": PASSWORD}
    )
    assert (
        response.headers["Location"].endswith("/login/code?next=/stats")
        or "next=%2Fstats" in response.headers["Location"]
    )
    path = response.headers["Location"]
    response = post_form(browser, path, {"code": totp_code(secret)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/stats")


def test_the_code_must_come_within_five_minutes(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    token = csrf_of(browser, "/login/code")
    clock.advance(minutes=5, seconds=1)
    response = browser.post("/login/code", data={"csrf_token": token, "code": totp_code(secret)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert browser.get("/dashboard").status_code == 302
    assert "Log in again" in browser.get("/login").get_data(as_text=True)


def test_the_code_page_without_a_right_password_first_leads_to_the_log_in_page(browser, people, clock):
    turn_on("aff@example.com", clock)
    response = browser.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_a_password_change_meanwhile_voids_the_waiting_log_in(browser, people, clock):
    from affnet.core.network import users

    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    token = csrf_of(browser, "/login/code")
    users.set_password(User.get(User.email == "aff@example.com"), "a-brand-new-password")
    response = browser.post("/login/code", data={"csrf_token": token, "code": totp_code(secret)})
    assert response.status_code == 302 and browser.get("/dashboard").status_code == 302


def test_more_than_five_code_tries_a_minute_answer_429_with_when_to_try_again(browser, people, clock):
    """Whoever reaches the code step knows the password: codes get a tighter limit than passwords (5 a minute,
    20 an hour, 50 a day per account), so guessing one takes years."""
    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    token = csrf_of(browser, "/login/code")
    for _ in range(5):
        assert (
            browser.post("/login/code", data={"csrf_token": token, "code": wrong(totp_code(secret))}).status_code == 401
        )
    response = browser.post("/login/code", data={"csrf_token": token, "code": totp_code(secret)})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Try again in" in response.get_data(as_text=True)
    assert browser.get("/dashboard").status_code == 302


def refuse_connections(*args, **kwargs):
    raise AssertionError("a network call while the set-up page was made")


def test_set_up_shows_a_qr_code_made_without_a_network_call_then_recovery_codes_once(
    browser, people, clock, monkeypatch
):
    log_in(browser, "aff@example.com")
    post_form(browser, "/account/two-factor/start", {}, form_path="/account/two-factor")
    monkeypatch.setattr(socket.socket, "connect", refuse_connections)
    response = browser.get("/account/two-factor")
    monkeypatch.undo()
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = two_factor.secret_of(User.get(User.email == "aff@example.com"))
    assert re.search(r'<div class="qr" role="img" aria-label="[^"]+"><svg viewBox=', page)
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in page, "the key in groups of four, for typing"

    response = post_form(
        browser, "/account/two-factor/enable", {"enable-code": totp_code(secret)}, "/account/two-factor"
    )
    shown = response.get_data(as_text=True)
    codes = re.search(r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', shown).group(1).split()
    assert response.status_code == 200 and len(codes) == 10
    assert "shown this once" in shown and response.headers["Cache-Control"] == "no-store"
    assert two_factor.is_enabled(User.get(User.email == "aff@example.com"))
    for path in ("/account/two-factor", "/account", "/audit"):
        page = browser.get(path).get_data(as_text=True)
        assert not any(code in page for code in codes) and secret not in page, f"{path} shows a code again"
    assert "10 recovery codes are left" in browser.get("/account/two-factor").get_data(as_text=True)


def test_a_wrong_code_turns_nothing_on(browser, people, clock):
    log_in(browser, "aff@example.com")
    post_form(browser, "/account/two-factor/start", {}, form_path="/account/two-factor")
    secret = two_factor.secret_of(User.get(User.email == "aff@example.com"))
    response = post_form(
        browser, "/account/two-factor/enable", {"enable-code": wrong(totp_code(secret))}, "/account/two-factor"
    )
    assert "That code is not right." in response.get_data(as_text=True)
    assert not two_factor.is_enabled(User.get(User.email == "aff@example.com"))


def test_new_recovery_codes_need_a_code_and_are_shown_once(browser, people, clock):
    secret, old = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    send_code(browser, totp_code(secret))
    clock.advance(seconds=30)
    refused = post_form(
        browser,
        "/account/two-factor/recovery-codes",
        {"recovery-code": wrong(totp_code(secret))},
        "/account/two-factor",
    )
    assert "That code is not right." in refused.get_data(as_text=True)
    assert two_factor.recovery_codes_left(User.get(User.email == "aff@example.com")) == 10
    response = post_form(
        browser, "/account/two-factor/recovery-codes", {"recovery-code": totp_code(secret)}, "/account/two-factor"
    )
    codes = (
        re.search(r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', response.get_data(as_text=True))
        .group(1)
        .split()
    )
    assert len(codes) == 10 and not set(codes) & set(old)
    assert not two_factor.use_recovery_code(User.get(User.email == "aff@example.com"), old[1])


def test_turning_off_needs_the_password_and_a_code(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    send_code(browser, totp_code(secret))
    clock.advance(seconds=30)
    path, form = "/account/two-factor/disable", "/account/two-factor"
    no_password = post_form(
        browser, path, {"disable-password": "not-the-password", "disable-code": totp_code(secret)}, form
    )
    assert "The password is not right." in no_password.get_data(as_text=True)
    no_code = post_form(browser, path, {"disable-password": PASSWORD, "disable-code": wrong(totp_code(secret))}, form)
    assert "That code is not right." in no_code.get_data(as_text=True)
    assert two_factor.is_enabled(User.get(User.email == "aff@example.com"))
    done = post_form(browser, path, {"disable-password": PASSWORD, "disable-code": totp_code(secret)}, form)
    assert done.status_code == 302
    assert not two_factor.is_enabled(User.get(User.email == "aff@example.com"))
    post_form(browser, "/logout", {}, form_path="/dashboard")
    assert log_in(browser, "aff@example.com").headers["Location"].endswith("/dashboard")


@pytest.mark.parametrize("affnet_config", REQUIRED)
@pytest.mark.parametrize("email, home", [("root@example.com", "/admin"), ("owner@example.com", "/owner/offers")])
def test_admins_and_product_owners_are_sent_to_set_it_up_when_the_network_requires_it(
    browser, people, clock, email, home
):
    log_in(browser, email)
    response = browser.get(home)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/two-factor")
    assert "requires two-factor log-in" in browser.get("/account/two-factor").get_data(as_text=True)
    assert browser.get("/account").status_code == 302
    with browser.get("/static/pages.css") as static:
        assert static.status_code == 200
    assert browser.get("/api/affiliate/stats-api").status_code == 401, "the APIs are never sent anywhere"

    post_form(browser, "/account/two-factor/start", {}, form_path="/account/two-factor")
    secret = two_factor.secret_of(User.get(User.email == email))
    post_form(browser, "/account/two-factor/enable", {"enable-code": totp_code(secret)}, "/account/two-factor")
    assert browser.get(home).status_code == 200
    page = browser.get("/account/two-factor").get_data(as_text=True)
    assert "Turn off two-factor log-in" not in page and "it stays on" in page
    clock.advance(seconds=30)
    response = post_form(
        browser,
        "/account/two-factor/disable",
        {"disable-password": PASSWORD, "disable-code": totp_code(secret)},
        "/account/two-factor",
    )
    assert response.status_code == 302 and two_factor.is_enabled(User.get(User.email == email))


@pytest.mark.parametrize("affnet_config", REQUIRED)
def test_an_affiliate_need_not_set_it_up_when_the_network_requires_it_of_admins_and_owners(browser, people, clock):
    log_in(browser, "aff@example.com")
    assert browser.get("/dashboard").status_code == 200


@pytest.mark.parametrize("affnet_config", REQUIRED)
def test_an_account_required_to_set_it_up_can_still_log_out(browser, people, clock):
    log_in(browser, "root@example.com")
    token = csrf_of(browser, "/account/two-factor")
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert browser.get("/account/two-factor").status_code == 302


def test_the_operators_reset_ends_the_accounts_sessions_and_lets_it_in_with_the_password(browser, people, clock):
    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    send_code(browser, totp_code(secret))
    assert browser.get("/dashboard").status_code == 200
    two_factor.reset(User.get(User.email == "aff@example.com"))
    assert browser.get("/dashboard").status_code == 302, "the session has ended"
    assert log_in(browser, "aff@example.com").headers["Location"].endswith("/dashboard")


def test_changes_made_on_the_pages_name_the_account_and_its_address_in_the_audit_log(browser, people, clock):
    log_in(browser, "aff@example.com")
    post_form(browser, "/account/two-factor/start", {}, form_path="/account/two-factor")
    entry = AuditEntry.get(AuditEntry.action == "two_factor.start")
    assert entry.actor_id == people["affiliate"].id and entry.ip == "127.0.0.1"
    assert "two_factor.start" in browser.get("/audit").get_data(as_text=True)


def test_a_disabled_account_cannot_finish_a_log_in_waiting_for_its_code(browser, people, clock):
    from affnet.core.network import users

    secret, _ = turn_on("aff@example.com", clock)
    log_in(browser, "aff@example.com")
    token = csrf_of(browser, "/login/code")
    users.set_active(User.get(User.email == "aff@example.com"), False)
    browser.post("/login/code", data={"csrf_token": token, "code": totp_code(secret)})
    assert browser.get("/dashboard").status_code == 302
