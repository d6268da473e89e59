"""The session cookie: HttpOnly and SameSite always, Secure when the network is served over TLS."""

import pytest

from .conftest import PASSWORD, _TOKEN


@pytest.fixture
def affnet_config():
    return {"base_url": "https://go.example-network.com", "behind_proxy": True}


def _session_cookie(response) -> str:
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))


def test_behind_tls_the_session_cookie_is_secure_httponly_and_samesite(browser, people):
    https = {"base_url": "https://go.example-network.com"}
    page = browser.get("/login", **https).get_data(as_text=True)
    token = next(group for group in _TOKEN.search(page).groups() if group)
    response = browser.post(
        "/login",
        data={"csrf_token": token, "email": "aff@example.com", "password": PASSWORD},
        headers={"Referer": "https://go.example-network.com/login"},  # over TLS the CSRF check wants our own page
        **https,
    )
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
