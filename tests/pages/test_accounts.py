"""Accounts on the pages: log in and out, sign-up and approval, passwords, one-time reset links, limits."""

import pytest

from affnet.core.network import users
from affnet.core.storage.models import User

from .conftest import PASSWORD, csrf_of, log_in, post_form


def test_the_front_page_leads_a_visitor_to_the_log_in_page(browser):
    response = browser.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert browser.get("/login").status_code == 200


def test_an_affiliate_logs_in_and_lands_on_the_dashboard(browser, people):
    response = log_in(browser, "aff@example.com")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert browser.get("/dashboard").status_code == 200
    assert User.get(User.email == "aff@example.com").last_login_at is not None


@pytest.mark.parametrize("email, password", [("aff@example.com", "not-the-password"), ("nobody@example.com", PASSWORD)])
def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(browser, people, email, password):
    response = log_in(browser, email, password)
    assert response.status_code == 401 and "Wrong email or password." in response.get_data(as_text=True)
    assert browser.get("/dashboard").status_code == 302


def test_log_out_ends_the_session(browser, people):
    log_in(browser, "aff@example.com")
    post_form(browser, "/logout", {}, form_path="/dashboard")
    assert browser.get("/dashboard").status_code == 302


def test_a_copy_of_the_session_cookie_opens_nothing_after_log_out(browser, people, affnet_app):
    log_in(browser, "aff@example.com")
    browser.get("/dashboard")
    copy = affnet_app.test_client()
    copy.set_cookie("session", browser.get_cookie("session").value)
    assert copy.get("/dashboard").status_code == 200
    post_form(browser, "/logout", {}, form_path="/dashboard")
    assert copy.get("/dashboard").status_code == 302


def test_a_password_change_ends_every_other_session(affnet_app, people):
    first, second = affnet_app.test_client(), affnet_app.test_client()
    log_in(first, "aff@example.com")
    log_in(second, "aff@example.com")
    response = post_form(
        first,
        "/account",
        {
            "password-current": PASSWORD,
            "password-password": "a-new-password-99",
            "password-confirm": "a-new-password-99",
            "password-submit": "1",
        },
        prefix="password-",
    )
    assert response.status_code == 302
    assert first.get("/dashboard").status_code == 200, "the session that changed it goes on"
    assert second.get("/dashboard").status_code == 302


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(browser, people, affnet_app):
    log_in(browser, "aff@example.com")
    users.set_active(User.get(User.email == "aff@example.com"), False)
    assert browser.get("/dashboard").status_code == 302
    response = log_in(affnet_app.test_client(), "aff@example.com")
    assert response.status_code == 401


def test_a_sign_up_waits_for_the_operator_then_logs_in(browser, people):
    response = post_form(
        browser,
        "/signup",
        {"name": "Nueva", "email": "nueva@example.com", "password": "long-enough-pass", "confirm": "long-enough-pass"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    waiting = log_in(browser, "nueva@example.com", "long-enough-pass")
    assert waiting.status_code == 401 and "waits for the network" in waiting.get_data(as_text=True)
    users.approve(User.get(User.email == "nueva@example.com"))
    assert log_in(browser, "nueva@example.com", "long-enough-pass").headers["Location"].endswith("/dashboard")
    assert User.get(User.email == "nueva@example.com").role == "affiliate"


def test_a_sign_up_with_a_short_password_or_a_taken_email_is_refused_and_writes_nothing(browser, people):
    short = post_form(
        browser, "/signup", {"name": "A", "email": "a@example.com", "password": "short", "confirm": "short"}
    )
    taken = post_form(
        browser,
        "/signup",
        {"name": "A", "email": "aff@example.com", "password": "long-enough-pass", "confirm": "long-enough-pass"},
    )
    assert short.status_code == 200 and taken.status_code == 200
    assert "This email has an account already." in taken.get_data(as_text=True)
    assert not User.select().where(User.email == "a@example.com").exists()


def test_a_reset_link_sets_a_password_once(browser, people):
    token = users.reset_link_token(User.get(User.email == "aff@example.com"))
    path = f"/reset/{token}"
    response = post_form(browser, path, {"password": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert response.status_code == 302
    assert log_in(browser, "aff@example.com", "brand-new-pass-1").status_code == 302
    assert browser.get(path).status_code == 410


def test_a_reset_link_expires(browser, people, affnet_clock):
    token = users.reset_link_token(User.get(User.email == "aff@example.com"))
    affnet_clock.advance(hours=users.RESET_HOURS, seconds=1)
    assert browser.get(f"/reset/{token}").status_code == 410


def test_a_new_reset_link_voids_the_earlier_one(browser, people):
    user = User.get(User.email == "aff@example.com")
    first = users.reset_link_token(user)
    users.reset_link_token(user)
    assert browser.get(f"/reset/{first}").status_code == 410


def test_passwords_are_stored_as_scrypt_hashes_at_full_cost(affnet_app, monkeypatch):
    monkeypatch.undo()  # the suite's quicker hashing (the root conftest) is not what affnet stores
    from affnet.core.network import accounts

    user, _ = accounts.create_user("new@example.com", "affiliate", password=PASSWORD)
    users.set_password(user, PASSWORD + "-again")
    stored = User.get_by_id(user.id).password_hash
    assert stored.startswith("scrypt:32768:8:1$") and PASSWORD not in stored


def test_too_many_log_in_tries_from_one_address_answer_429_with_when_to_try_again(browser, people):
    for _ in range(10):
        log_in(browser, "aff@example.com", "wrong-password-x")
    response = log_in(browser, "aff@example.com")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Try again in" in response.get_data(as_text=True)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_too_many_tries_on_one_account_answer_429_from_any_address(affnet_app, people):
    for n in range(10):
        log_in(from_address(affnet_app, f"198.51.100.{n}"), "aff@example.com", "wrong-pw-x1")
    other_address = from_address(affnet_app, "203.0.113.9")
    assert log_in(other_address, "aff@example.com").status_code == 429
    assert log_in(other_address, "other@example.com").status_code == 302, "another account is not held back"


def test_too_many_sign_ups_from_one_address_answer_429(browser, people):
    for n in range(5):
        post_form(
            browser,
            "/signup",
            {"name": "A", "email": f"s{n}@example.com", "password": "long-enough-pass", "confirm": "long-enough-pass"},
        )
    response = post_form(
        browser,
        "/signup",
        {"name": "A", "email": "s9@example.com", "password": "long-enough-pass", "confirm": "long-enough-pass"},
    )
    assert response.status_code == 429 and not User.select().where(User.email == "s9@example.com").exists()


def test_a_log_in_after_the_log_in_page_of_another_session_is_refused(browser, people, affnet_app):
    token = csrf_of(affnet_app.test_client(), "/login")
    response = browser.post("/login", data={"csrf_token": token, "email": "aff@example.com", "password": PASSWORD})
    assert response.status_code == 400


def test_sign_up_and_a_reset_refuse_a_post_without_a_valid_csrf_token(browser, people):
    form = {"name": "A", "email": "csrf@example.com", "password": "long-enough-pass", "confirm": "long-enough-pass"}
    for token in ({}, {"csrf_token": "forged"}):
        assert browser.post("/signup", data={**form, **token}).status_code == 400
    assert not User.select().where(User.email == "csrf@example.com").exists()
    reset = users.reset_link_token(User.get(User.email == "aff@example.com"))
    new = {"password": "brand-new-pass-1", "confirm": "brand-new-pass-1"}
    for token in ({}, {"csrf_token": "forged"}):
        assert browser.post(f"/reset/{reset}", data={**new, **token}).status_code == 400
    assert users.reset_for(reset) is not None, "the link still works"
    assert users.authenticate("aff@example.com", "brand-new-pass-1") is None
