"""Helpers for the pages' tests: accounts of each role and a browser-like client that logs in."""

import re

import pytest
from werkzeug.security import generate_password_hash

from affnet.core.network import accounts

PASSWORD = "a-good-password-42"
_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")  # the quick cost of the root conftest
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1) or found.group(2)


def log_in(client, email: str, password: str = PASSWORD):
    token = csrf_of(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def post_form(client, path: str, data: dict, form_path: str | None = None, prefix: str = ""):
    """POST ``data`` to ``path`` with the CSRF token of the page at ``form_path`` (default ``path``)."""
    token = csrf_of(client, form_path or path)
    return client.post(path, data={f"{prefix}csrf_token": token, **data})


@pytest.fixture
def people(affnet_app, affnet_network):
    """Every role, with a known password: the network's affiliate and owner, a second affiliate (with
    its own participation on the offer), and an admin."""
    from affnet.core.storage.models import User

    other = affnet_network.add_affiliate("other@example.com")
    admin, _ = accounts.create_user("root@example.com", "admin", password="set-below-at-once")
    User.update(password_hash=_HASH).execute()
    return {
        "affiliate": affnet_network.affiliate,
        "other": other.affiliate,
        "other_participation": other,
        "advertiser": affnet_network.advertiser,
        "admin": admin,
    }


@pytest.fixture
def browser(affnet_app):
    return affnet_app.test_client()
