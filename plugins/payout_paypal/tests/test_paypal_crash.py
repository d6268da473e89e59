"""A worker killed (SIGKILL) after PayPal made the batch and before affnet recorded it: the next send,
with the same sender_batch_id and PayPal-Request-Id, finds that batch and pays nothing twice
(PostgreSQL, a real `affnet payouts send` process)."""

import time
from datetime import datetime, timedelta
from decimal import Decimal

import affnet_payout_paypal.plugin as paypal_plugin
import pytest

from affnet.core.earnings import payouts
from affnet.core.network.network_secrets import set_network_secret
from affnet.core.storage.models import LedgerEntry, Payout
from affnet.testing import kill_between_answer_and_record, run_affnet
from fake_paypal import FakePayPal, Hold

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("affnet_database_url", ["postgresql"], indirect=True)]


@pytest.fixture
def paypal():
    with FakePayPal() as fake:
        yield fake


@pytest.fixture
def affnet_plugins():
    return [("payout_paypal", paypal_plugin)]


@pytest.fixture
def affnet_config(paypal):
    return {"plugin.payout_paypal": {"base_url": paypal.base}}


def test_a_worker_killed_between_paypals_answer_and_the_record_pays_once(
    affnet_app, affnet_network, affnet_settings, affnet_cli, affnet_database_url, paypal, tmp_path
):
    set_network_secret("paypal.client_id", paypal.client_id)
    set_network_secret("paypal.client_secret", paypal.client_secret)
    methods = payouts.Methods.from_plugins(affnet_app.extensions["affnet"].pm)
    now = datetime.now().replace(microsecond=0)
    payouts.set_method(
        methods, affnet_network.affiliate, "paypal", {"email": "ana@example.com"}, 24, now - timedelta(days=30)
    )
    LedgerEntry.create(affiliate=affnet_network.affiliate, currency="USD", amount=Decimal("75.50"), kind="commission",
                       available_at=now - timedelta(days=1))  # fmt: skip
    _, [payout] = payouts.run_payouts(affnet_settings, methods, now=now, mode="auto")
    affnet_cli("payouts", "list")  # writes the command line's config file
    config = tmp_path / "affnet-cli.toml"
    config.write_text(config.read_text() + "[worker]\nclaim_seconds = 1\n")

    paypal.on_create_payout = hold = Hold()
    kill_between_answer_and_record(config, affnet_database_url, payout.id, hold.entered, hold.release)
    assert Payout.get_by_id(payout.id).status == "sending", "killed before the answer was recorded"

    time.sleep(1.2)  # the dead sender's claim runs out
    again = run_affnet(config, "payouts", "send")
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 0, output.decode()
    done = Payout.get_by_id(payout.id)
    assert len(paypal.batches) == 1, "one batch: the second send found the first"
    assert (done.status, done.external_id) == ("sent", paypal.batches[0].id)
    assert paypal.batches[0].sender_batch_id == done.idempotency_key
