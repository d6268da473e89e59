"""Fixtures of the Stripe plugin's tests: the plugin on the test app, the
offer with its signing secret saved, and a click to name in events."""

import pytest

import affnet_stripe_ingest.plugin as stripe_plugin
from affnet.core.network.offer_secrets import set_offer_secret
from affnet.testing import click, click_id_of
from affnet_stripe_ingest.webhook import SECRET_NAME
from stripe_ingest_support import TEST_SECRET


@pytest.fixture
def affnet_plugins():
    return [stripe_plugin]


@pytest.fixture
def offer(affnet_network):
    set_offer_secret(affnet_network.offer, SECRET_NAME, TEST_SECRET)
    return affnet_network.offer


@pytest.fixture
def click_id(affnet_client, affnet_network):
    return click_id_of(click(affnet_client, affnet_network.ref))
