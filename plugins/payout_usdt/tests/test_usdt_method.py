"""The ``usdt`` payout method as the core sees it: its shape, send, destination and the hash check."""

from decimal import Decimal
from importlib.metadata import entry_points

import pytest

import affnet_payout_usdt.plugin as plugin
from affnet.plugins import PayoutMethod, PayoutRequest, PayoutResult
from affnet_payout_usdt.plugin import USDT

TRON = {"network": "TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}
ETHEREUM = {"network": "ERC20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}
# real USDT transfers' hashes have these shapes; the digits here are made up
TRON_HASH = "3f1c" * 16
ETHEREUM_HASH = "0x" + "9a7e" * 16


def request(details=TRON, amount="25.00", currency="USD"):
    return PayoutRequest(42, 7, Decimal(amount), currency, details, "affnet-payout-42", "affnet payout 42")


def test_usdt_the_plugin_offers_one_method_named_usdt_by_its_entry_point():
    (entry,) = [entry for entry in entry_points(group="affnet") if entry.name == "payout_usdt"]
    assert entry.value == "affnet_payout_usdt.plugin"
    assert plugin.payout_methods() == [USDT]
    assert isinstance(USDT, PayoutMethod)
    assert (USDT.name, USDT.label) == ("usdt", "USDT (TRC20 or ERC20)")
    assert [field.name for field in USDT.fields] == ["network", "address"]
    assert all(field.required and not field.secret for field in USDT.fields)
    assert USDT.credentials == ()
    assert plugin.config_keys() == []


def test_usdt_pays_usd_balances_only_at_par():
    assert USDT.currencies == ("USD",)
    assert "1 USD = 1 USDT" in USDT.fields[1].help


def test_usdt_send_puts_the_payout_in_the_transfer_file_and_says_so():
    first = USDT.send(request(), {})
    assert first == PayoutResult(
        "sent", note="in the USDT transfer file: pay it from your wallet, then record the transaction hash"
    )
    assert USDT.send(request(), {}) == first  # nothing was sent, so a repeat is harmless


def test_usdt_has_no_poll_a_payout_completes_when_its_hash_is_recorded():
    assert USDT.poll is None


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        (request(currency="EUR"), "EUR"),
        (request(amount="1.2345678"), "decimals"),
        (request(details={**TRON, "address": TRON["address"][:-1] + "u"}), "checksum"),
        (request(details={"network": "BEP20", "address": TRON["address"]}), "BEP20"),
    ],
    ids=["not USD", "7 decimals", "bad address", "unknown network"],
)
def test_usdt_send_fails_a_payout_the_file_could_not_hold(sent, says):
    result = USDT.send(sent, {})
    assert result.outcome == "failed" and says in result.error


def test_usdt_destination_is_the_network_and_the_whole_address():
    assert USDT.destination(TRON) == "TRC20 TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert USDT.destination(ETHEREUM) == "ERC20 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert USDT.destination({"network": "erc20", "address": ETHEREUM["address"]}).startswith("ERC20 0x")


def test_usdt_check_reference_accepts_a_tron_hash_for_trc20_and_an_ethereum_hash_for_erc20():
    assert USDT.check_reference(TRON, TRON_HASH) is None
    assert USDT.check_reference(ETHEREUM, ETHEREUM_HASH) is None


def test_usdt_check_reference_refuses_the_other_networks_hash_shape():
    assert "Ethereum hash" in USDT.check_reference(TRON, ETHEREUM_HASH)
    assert "TRON hash" in USDT.check_reference(ETHEREUM, TRON_HASH)


@pytest.mark.parametrize(
    "reference",
    [
        "",
        TRON_HASH[:-1],
        TRON_HASH + "0",
        "g" + TRON_HASH[1:],
        f" {TRON_HASH}",
        "0X" + TRON_HASH,
        TRON["address"],
        ETHEREUM["address"],
    ],
    ids=["empty", "63 digits", "65 digits", "not hex", "space", "0X", "tron address", "ethereum address"],
)
@pytest.mark.parametrize("details", [TRON, ETHEREUM], ids=["TRC20", "ERC20"])
def test_usdt_check_reference_refuses_anything_but_a_transaction_hash(details, reference):
    assert USDT.check_reference(details, reference)


@pytest.mark.parametrize(("details", "reference"), [(TRON, TRON_HASH.upper()), (ETHEREUM, ETHEREUM_HASH.upper())])
def test_usdt_check_reference_takes_one_spelling_per_hash_lower_case(details, reference):
    # the core keeps a hash from completing two payouts by comparing texts
    assert "lower case" in USDT.check_reference(details, reference.replace("0X", "0x"))


def test_usdt_check_reference_refuses_for_an_unknown_network():
    assert "neither TRC20 nor ERC20" in USDT.check_reference({"network": "BTC", "address": "x"}, TRON_HASH)
