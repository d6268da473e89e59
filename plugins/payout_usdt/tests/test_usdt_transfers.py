"""The mass-transfer file: one CSV line per payout, exact USDT amounts, sorted by network."""

import csv
import io
from decimal import Decimal

import pytest

from affnet.plugins import PayoutRequest
from affnet_payout_usdt.plugin import USDT
from affnet_payout_usdt.transfers import COLUMNS, usdt_amount

TRON = {"network": "TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}
ETHEREUM = {"network": "ERC20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}


def request(payout_id, amount, details, currency="USD"):
    return PayoutRequest(
        payout_id=payout_id,
        affiliate_id=7,
        amount=Decimal(amount),
        currency=currency,
        details=details,
        idempotency_key=f"affnet-payout-{payout_id}",
        reference=f"affnet payout {payout_id}",
    )


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_usdt_the_file_has_one_line_per_payout_with_its_network_address_amount_and_ids():
    name, data = USDT.export([request(12, "12.50", TRON)], {})
    assert name.startswith("usdt-transfers-") and name.endswith(".csv")
    assert data.decode("utf-8").splitlines()[0] == ",".join(COLUMNS)
    assert rows(data) == [
        {
            "network": "TRC20",
            "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "amount": "12.50",
            "payout_id": "12",
            "memo": "affnet payout 12",
            "tx_hash": "",
        }
    ]


def test_usdt_the_file_is_sorted_by_network_then_payout_id():
    requests = [
        request(5, "1", TRON),
        request(3, "2", ETHEREUM),
        request(4, "3", TRON),
        request(10, "4", ETHEREUM),
        request(9, "5", ETHEREUM),
    ]
    lines = [(row["network"], row["payout_id"]) for row in rows(USDT.export(requests, {})[1])]
    assert lines == [("ERC20", "3"), ("ERC20", "9"), ("ERC20", "10"), ("TRC20", "4"), ("TRC20", "5")]


@pytest.mark.parametrize(
    ("amount", "written"),
    [
        ("12.50", "12.50"),
        ("100", "100"),
        ("1E+3", "1000"),
        ("0.0001", "0.0001"),
        ("1.234567", "1.234567"),
        ("2.500000000", "2.500000"),
        ("0.000001", "0.000001"),
        ("123456789012.34", "123456789012.34"),
    ],
)
def test_usdt_amounts_are_written_exactly_with_6_decimals_at_most(amount, written):
    assert usdt_amount(Decimal(amount)) == written
    (row,) = rows(USDT.export([request(1, amount, TRON)], {})[1])
    assert row["amount"] == written
    assert Decimal(row["amount"]) == Decimal(amount)
    assert len(row["amount"].partition(".")[2]) <= 6


@pytest.mark.parametrize("amount", [Decimal("1.2345678"), Decimal("0"), Decimal("-5.00"), Decimal("NaN"), 5.5])
def test_usdt_an_amount_usdt_cannot_carry_exactly_is_refused_not_rounded(amount):
    with pytest.raises(ValueError):
        usdt_amount(amount)


def test_usdt_a_file_with_a_payout_it_cannot_hold_is_not_made_and_names_every_such_payout():
    requests = [
        request(1, "5", TRON),
        request(2, "1.2345678", TRON),
        request(3, "5", ETHEREUM, currency="EUR"),
        request(4, "5", {"network": "TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"}),
    ]
    with pytest.raises(ValueError) as refusal:
        USDT.export(requests, {})
    message = str(refusal.value)
    assert "payout 1:" not in message
    assert "payout 2:" in message and "payout 3:" in message and "payout 4:" in message


def test_usdt_the_file_round_trips_through_csv_with_payout_id_and_tx_hash_for_the_import():
    requests = [request(i, f"{i}.{i:02d}", TRON if i % 2 else ETHEREUM) for i in range(1, 21)]
    requests.append(request(21, "3", {**TRON, "network": "trc20"}))  # stored as typed, written as the network is named
    name, data = USDT.export(requests, {})
    assert b"\r\n" in data and not data.startswith(b"\xef\xbb\xbf")
    read = rows(data)
    assert len(read) == 21 and set(read[0]) == set(COLUMNS)
    by_id = {int(row["payout_id"]): row for row in read}
    for sent in requests:
        row = by_id[sent.payout_id]
        assert Decimal(row["amount"]) == sent.amount
        assert row["network"] == sent.details["network"].upper()
        assert row["address"] == sent.details["address"]
        assert row["memo"] == sent.reference
    # the operator fills in tx_hash; an import reads payout_id and tx_hash by their headers
    filled = io.StringIO(newline="")
    writer = csv.DictWriter(filled, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({**row, "tx_hash": "ab" * 32} for row in read)
    imported = {(int(row["payout_id"]), row["tx_hash"]) for row in csv.DictReader(io.StringIO(filled.getvalue()))}
    assert imported == {(sent.payout_id, "ab" * 32) for sent in requests}


def test_usdt_an_empty_batch_is_a_file_with_only_its_header_line():
    assert USDT.export([], {})[1] == (",".join(COLUMNS) + "\r\n").encode()


def test_usdt_the_file_has_no_reference_column_that_an_import_would_take_for_a_hash():
    # affnet's import reads tx_hash, and a column named reference when tx_hash is empty
    header = USDT.export([request(1, "5", TRON)], {})[1].decode().splitlines()[0].split(",")
    assert "reference" not in header and {"payout_id", "tx_hash"} <= set(header)
