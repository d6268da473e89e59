"""`affnet payouts`: the run by hand, review, approve, send, the transfer file and hashes, cancel,
the books, balances, the affiliate's method, minimums and credentials, each with --json."""

import json
from datetime import datetime

import affnet_payout_usdt.plugin as usdt
import pytest

from affnet.core.storage.models import NetworkSecret, Payout
from affnet.testing import click, click_id_of, ingest, sale_body

ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
HASH = "b" * 64


@pytest.fixture
def affnet_plugins():
    return [("payout_usdt", usdt)]


@pytest.fixture
def earned(affnet_app, affnet_client, affnet_network, affnet_clock, affnet_cli):
    """The affiliate chose USDT and earned 60.00 USD a week before Monday 8 June 2026, 10:00."""
    affnet_clock.set(datetime(2026, 5, 31))
    chosen = affnet_cli("payouts", "method", "aff@example.com", "usdt", "network=TRC20", f"address={ADDRESS}", "--json")
    assert chosen.exit_code == 0, chosen.output
    affnet_clock.set(datetime(2026, 6, 1, 9))
    clicked = click_id_of(click(affnet_client, affnet_network.ref))
    assert ingest(affnet_client, affnet_network, "conversion", sale_body(clicked, amount="200.00")).status_code == 201
    affnet_clock.set(datetime(2026, 6, 8, 10))


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_run_by_hand_waits_for_approval_and_lists_its_totals(earned, affnet_cli):
    run = _json(affnet_cli("payouts", "run", "--json"))
    assert (run["week"], run["mode"], run["skipped"]) == ("2026-W24", "review", [])
    assert [(p["affiliate"], p["amount"], p["status"]) for p in run["made"]] == [
        ("aff@example.com", "60.0000", "awaiting_approval")
    ]
    assert run["totals"] == [{"currency": "USD", "method": "usdt", "amount": "60.0000"}]
    again = affnet_cli("payouts", "run")
    assert "no new payout" in again.output


def test_approve_send_transfer_file_and_a_recorded_hash_complete_a_usdt_payout(earned, affnet_cli, tmp_path):
    affnet_cli("payouts", "run")
    assert _json(affnet_cli("payouts", "approve", "--run", "2026-W24", "--json")) == {"approved": 1}
    assert _json(affnet_cli("payouts", "send", "--json"))["sent"] == {"sent": 1}
    transfers = affnet_cli("payouts", "transfers", "usdt", "-o", str(tmp_path / "usdt.csv"))
    assert transfers.exit_code == 0 and ADDRESS in (tmp_path / "usdt.csv").read_text()
    payout = Payout.get()
    shown = _json(affnet_cli("payouts", "show", str(payout.id), "--json"))
    assert shown["status"] == "sent" and shown["destination"] == f"TRC20 {ADDRESS}"
    done = _json(affnet_cli("payouts", "record", str(payout.id), HASH, "--json"))
    assert (done["status"], done["reference"]) == ("completed", HASH)
    balances = _json(affnet_cli("payouts", "balances", "aff@example.com", "--json"))
    assert (balances[0]["paid"], balances[0]["payable"]) == ("60.0000", "0.0000")


def test_a_hash_import_completes_the_payouts_of_its_lines(earned, affnet_cli, tmp_path):
    affnet_cli("payouts", "run", "--mode", "auto")
    payout = Payout.get()
    assert payout.status == "sent", "auto mode sends at once"
    sheet = tmp_path / "paid.csv"
    sheet.write_text(f"payout_id,tx_hash\n{payout.id},{HASH}\n")
    assert _json(affnet_cli("payouts", "import-references", str(sheet), "--json")) == {
        "completed": [payout.id],
        "refused": [],
    }


def test_a_wrong_hash_is_refused_with_its_reason_and_nothing_changes(earned, affnet_cli):
    affnet_cli("payouts", "run", "--mode", "auto")
    payout = Payout.get()
    refused = affnet_cli("payouts", "record", str(payout.id), "0x" + HASH)
    assert refused.exit_code == 1 and "64" in refused.output
    assert Payout.get_by_id(payout.id).status == "sent"


def test_cancel_returns_the_amount_and_the_list_shows_it(earned, affnet_cli):
    affnet_cli("payouts", "run")
    payout = Payout.get()
    assert _json(affnet_cli("payouts", "cancel", str(payout.id), "--json"))["status"] == "cancelled"
    assert _json(affnet_cli("payouts", "balances", "aff@example.com", "--json"))[0]["payable"] == "60.0000"
    listed = _json(affnet_cli("payouts", "list", "--status", "cancelled", "--json"))
    assert [row["payout_id"] for row in listed] == [payout.id]


def test_export_writes_the_books_csv(earned, affnet_cli):
    affnet_cli("payouts", "run")
    lines = affnet_cli("payouts", "export", "--run", "2026-W24").output.splitlines()
    assert lines[0] == "payout_id,affiliate,method,destination,amount,currency,status,reference"
    assert lines[1].startswith(f"{Payout.get().id},aff@example.com,usdt,TRC20 {ADDRESS},60.0000,USD,")


def test_an_affiliate_without_a_method_is_listed_as_skipped_with_the_reason(
    affnet_app, affnet_client, affnet_network, affnet_clock, affnet_cli
):
    affnet_clock.set(datetime(2026, 6, 1, 9))
    clicked = click_id_of(click(affnet_client, affnet_network.ref))
    ingest(affnet_client, affnet_network, "conversion", sale_body(clicked, amount="200.00"))
    affnet_clock.set(datetime(2026, 6, 8, 10))
    assert "skipped aff@example.com 60.0000 USD: no payout method set" in affnet_cli("payouts", "run").output


def test_a_bad_address_is_refused_by_the_method_command(affnet_app, affnet_network, affnet_cli):
    refused = affnet_cli("payouts", "method", "aff@example.com", "usdt", "network=TRC20", "address=T" + "1" * 33)
    assert refused.exit_code == 1 and "address" in refused.output


def test_a_minimum_is_raised_for_one_affiliate_and_never_lowered(affnet_app, affnet_network, affnet_cli):
    raised = _json(affnet_cli("payouts", "minimum", "aff@example.com", "USD", "120", "--json"))
    assert raised["minimum"] == "120.0000"
    assert "only be raised" in affnet_cli("payouts", "minimum", "aff@example.com", "USD", "10").output


def test_credentials_are_asked_for_and_kept_encrypted(affnet_app, affnet_cli, monkeypatch):
    from affnet import hookimpl
    from affnet.plugins import PayoutMethod, PayoutResult, SettingField

    method = PayoutMethod(
        "usdt", "USDT", usdt.USDT.fields, ("USD",), send=lambda r, c: PayoutResult("sent"),
        credentials=(SettingField("api_token", "API token", secret=True),),
    )  # fmt: skip
    monkeypatch.setattr(usdt, "payout_methods", hookimpl(lambda: [method]))  # a method with credentials
    shown = _json(affnet_cli("payouts", "credentials", "usdt", "--json", input="tok-very-secret-1234\n"))
    assert shown == {"method": "usdt", "set": {"api_token": "…1234"}}
    stored = NetworkSecret.get(NetworkSecret.name == "usdt.api_token")
    assert "tok-very-secret" not in stored.value
