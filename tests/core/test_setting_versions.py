"""The settings in force on the ingest path come from memory for at most
``cache_seconds``; a save in this process is seen at once."""

import pytest

from affnet.core import clock
from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import SettingVersion
from tests import sample_plugin

URL = {"url": "https://receiver.example/hit", "token": "s3cr3t-token"}


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


@pytest.fixture
def affnet_config():
    return {"cache_seconds": 5}


def in_force(network):
    return setting_versions.all_in_force([sample_plugin.KIND.name], network.affiliate.id, None, clock.now())


def test_a_version_saved_in_this_process_acts_at_once_despite_the_cache(affnet_app, affnet_network):
    assert in_force(affnet_network) == {}
    setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, URL)
    assert in_force(affnet_network)[sample_plugin.KIND.name].values == URL


def test_a_version_saved_elsewhere_is_seen_within_cache_seconds(affnet_app, affnet_network):
    assert in_force(affnet_network) == {}
    SettingVersion.create(
        kind=sample_plugin.KIND.name, affiliate=affnet_network.affiliate, values=URL, effective_at=clock.now()
    )  # as another server saves it
    assert in_force(affnet_network) == {}, "still the remembered versions"
    setting_versions._versions.forget()  # what cache_seconds passing does
    assert in_force(affnet_network)[sample_plugin.KIND.name].values == URL


def test_the_version_in_force_follows_the_time_of_the_event(affnet_app, affnet_network):
    first, _ = setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, URL)
    later = {**URL, "url": "https://receiver.example/new"}
    second, _ = setting_versions.save(sample_plugin.KIND, affnet_network.affiliate, later)
    kind = [sample_plugin.KIND.name]
    affiliate = affnet_network.affiliate.id
    assert setting_versions.all_in_force(kind, affiliate, None, clock.now())[kind[0]].version_id == first.id
    assert setting_versions.all_in_force(kind, affiliate, None, second.effective_at)[kind[0]].version_id == second.id
