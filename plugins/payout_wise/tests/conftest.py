"""Fixtures of the payout_wise tests: a fake Wise on 127.0.0.1 and the
config ``send`` and ``poll`` receive for it."""

import pytest

from fake_wise import FakeWise


@pytest.fixture
def wise():
    with FakeWise() as fake:
        yield fake


@pytest.fixture
def config(wise):
    """The plugin's section with the decrypted token, as the core merges them."""
    return {"base_url": wise.base, "profile_id": 0, "api_token": wise.token, "affnet.timeout_seconds": 5}
