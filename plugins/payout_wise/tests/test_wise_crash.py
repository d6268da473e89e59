"""A worker killed (SIGKILL) after Wise made and funded the transfer and before affnet recorded it:
the next send finds the same transfer by its customerTransactionId and pays nothing twice
(PostgreSQL, a real `affnet payouts send` process)."""

import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import affnet_payout_wise.plugin as wise_plugin
import pytest

from affnet.core.earnings import payouts
from affnet.core.network.network_secrets import set_network_secret
from affnet.core.storage.models import LedgerEntry, Payout
from affnet.testing import kill_between_answer_and_record, run_affnet
from fake_wise import FakeWise

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("affnet_database_url", ["postgresql"], indirect=True)]
DETAILS = {"account_holder_name": "Ana Ruiz", "iban": "DE89370400440532013000"}


@pytest.fixture
def wise():
    with FakeWise() as fake:
        yield fake


@pytest.fixture
def affnet_plugins():
    return [("payout_wise", wise_plugin)]


@pytest.fixture
def affnet_config(wise):
    return {"plugin.payout_wise": {"base_url": wise.base, "profile_id": 0}}


def test_a_worker_killed_between_wises_answer_and_the_record_pays_once(
    affnet_app, affnet_network, affnet_settings, affnet_cli, affnet_database_url, wise, tmp_path
):
    set_network_secret("wise.api_token", wise.token)
    methods = payouts.Methods.from_plugins(affnet_app.extensions["affnet"].pm)
    now = datetime.now().replace(microsecond=0)
    payouts.set_method(methods, affnet_network.affiliate, "wise", DETAILS, 24, now=now - timedelta(days=30))
    LedgerEntry.create(affiliate=affnet_network.affiliate, currency="EUR", amount=Decimal("80.00"), kind="commission",
                       available_at=now - timedelta(days=1))  # fmt: skip
    _, [payout] = payouts.run_payouts(affnet_settings, methods, now=now, mode="auto")
    affnet_cli("payouts", "list")  # writes the command line's config file
    config = tmp_path / "affnet-cli.toml"
    config.write_text(config.read_text() + "[worker]\nclaim_seconds = 1\n")

    answered, release = threading.Event(), threading.Event()
    wise.on_create_transfer = lambda transfer: (answered.set(), release.wait(30))
    kill_between_answer_and_record(config, affnet_database_url, payout.id, answered, release.set)
    assert Payout.get_by_id(payout.id).status == "sending", "killed before the answer was recorded"
    assert len(wise.transfers) == 1

    time.sleep(1.2)  # the dead sender's claim runs out
    again = run_affnet(config, "payouts", "send")
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 0, output.decode()
    done = Payout.get_by_id(payout.id)
    [transfer_id] = wise.transfers
    assert (len(wise.transfers), wise.fundings) == (1, [transfer_id]), "one transfer, funded once"
    assert (done.status, done.external_id) == ("sent", str(transfer_id))
