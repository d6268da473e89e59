"""The address checks: TRON's Base58Check and Ethereum's EIP-55, on real addresses and one character off."""

import hashlib

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affnet_payout_usdt.addresses import eip55, keccak256
from affnet_payout_usdt.plugin import validate

USDT_TRC20_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
# The test cases of the EIP-55 text (eips.ethereum.org/EIPS/eip-55)
EIP55_ALL_CAPS = ["0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D"]
EIP55_ALL_LOWER = ["0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26"]
EIP55_NORMAL = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
BASE58 = base58.BITCOIN_ALPHABET.decode()


def tron(address):
    return validate({"network": "TRC20", "address": address})


def ethereum(address):
    return validate({"network": "ERC20", "address": address})


def tron_address(account: bytes) -> str:
    return base58.b58encode_check(b"\x41" + account).decode()


def replace(text, position, character):
    return text[:position] + character + text[position + 1 :]


# TRC20


def test_usdt_a_real_tron_address_is_accepted():
    assert tron(USDT_TRC20_CONTRACT) == {}


@pytest.mark.parametrize("position", [1, 10, 20, 33])
def test_usdt_a_tron_address_with_one_character_changed_is_refused_by_its_checksum(position):
    other = "k" if USDT_TRC20_CONTRACT[position] != "k" else "m"
    assert "checksum" in tron(replace(USDT_TRC20_CONTRACT, position, other))["address"]


@pytest.mark.parametrize(
    "address",
    [
        USDT_TRC20_CONTRACT[:-1],
        USDT_TRC20_CONTRACT + "a",
        "R7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "X" + USDT_TRC20_CONTRACT[1:],
    ],
    ids=["33 characters", "35 characters", "no T", "X for T"],
)
def test_usdt_a_tron_address_of_the_wrong_length_or_not_starting_with_t_is_refused(address):
    assert "34 characters and starts with T" in tron(address)["address"]


@pytest.mark.parametrize(
    "address",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # Bitcoin's genesis address: Base58Check, version byte 0x00
        base58.b58encode_check(b"\x40" + b"\xff" * 20).decode(),  # T and 34 characters, but prefix 0x40
        base58.b58encode_check(b"\x41" + bytes(21)).decode(),  # prefix 0x41, but 22 bytes
    ],
    ids=["bitcoin", "prefix 0x40", "22 bytes"],
)
def test_usdt_a_valid_base58check_string_that_is_not_a_tron_address_is_refused(address):
    base58.b58decode_check(address)  # the checksum itself holds
    assert "not a TRON address" in tron(address)["address"]


def test_usdt_a_tron_address_with_a_character_base58_lacks_or_spaces_is_refused():
    assert "Base58" in tron(replace(USDT_TRC20_CONTRACT, 5, "0"))["address"]
    assert "spaces" in tron(f" {USDT_TRC20_CONTRACT}")["address"]
    assert "Enter" in tron("")["address"]


@settings(derandomize=True, max_examples=200)
@given(account=st.binary(min_size=20, max_size=20))
def test_usdt_any_twenty_bytes_written_as_a_tron_address_are_accepted(account):
    address = tron_address(account)
    assert len(address) == 34 and address.startswith("T")
    assert tron(address) == {}


def still_a_tron_address(text: str) -> bool:
    """Base58Check decoded by hand (not by the library under test): 25 bytes,
    0x41 first, and the last 4 the double SHA-256 of the first 21."""
    number = 0
    for character in text:
        number = number * 58 + BASE58.index(character)
    leading_zeros = len(text) - len(text.lstrip("1"))
    raw = bytes(leading_zeros) + number.to_bytes((number.bit_length() + 7) // 8, "big")
    checksum = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4]
    return len(raw) == 25 and raw[0] == 0x41 and raw[-4:] == checksum


@settings(derandomize=True, max_examples=300)
@given(account=st.binary(min_size=20, max_size=20), data=st.data())
def test_usdt_a_tron_address_with_any_one_character_substituted_is_refused(account, data):
    # A substitution changes the 25 decoded bytes (it adds a nonzero multiple of
    # a power of 58), so it keeps the address valid only if the new last 4 bytes
    # happen to equal the checksum of the new first 21: a 1 in 2**32 chance, and
    # then the text really is another TRON address. The test asks a decoder of
    # its own which case it is, so it cannot flake, and in practice it always
    # sees the refusal.
    address = tron_address(account)
    position = data.draw(st.integers(0, len(address) - 1), label="position")
    character = data.draw(st.sampled_from(BASE58.replace(address[position], "")), label="character")
    typo = replace(address, position, character)
    if still_a_tron_address(typo):
        assert tron(typo) == {}
    else:
        assert "address" in tron(typo)


# ERC20


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_usdt_the_eip55_examples_are_accepted(address):
    assert ethereum(address) == {}
    assert eip55(address.lower()) == address


@pytest.mark.parametrize("address", EIP55_ALL_LOWER + EIP55_ALL_CAPS)
def test_usdt_an_all_lower_or_all_upper_case_ethereum_address_is_accepted_without_a_checksum(address):
    assert ethereum(address) == {}
    assert ethereum(address.lower()) == {}
    assert ethereum("0x" + address[2:].upper()) == {}


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_usdt_a_mixed_case_ethereum_address_with_one_letter_case_flipped_is_refused(address):
    position = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    typo = replace(address, position, address[position].swapcase())
    assert "checksum" in ethereum(typo)["address"]


@settings(derandomize=True, max_examples=200)
@given(account=st.binary(min_size=20, max_size=20), data=st.data())
def test_usdt_any_checksummed_ethereum_address_is_accepted_and_any_case_flip_refused(account, data):
    # Exact, not probable: a letter's case is fixed by the hash of the lower-case
    # address, which a case flip leaves alone, so one flipped letter is always
    # wrong, unless the flip leaves the address all in one case (no checksum).
    address = eip55("0x" + account.hex())
    assert ethereum(address) == {}
    letters = [i for i, c in enumerate(address) if i > 1 and c in "abcdefABCDEF"]
    if letters:
        position = data.draw(st.sampled_from(letters), label="position")
        typo = replace(address, position, address[position].swapcase())
        digits = typo[2:]
        assert (ethereum(typo) == {}) == (digits in (digits.lower(), digits.upper()))


@pytest.mark.parametrize(
    "address",
    [
        EIP55_NORMAL[0][:-1],
        EIP55_NORMAL[0] + "a",
        EIP55_NORMAL[0][2:],
        "0x" + "g" * 40,
        "0X" + EIP55_ALL_LOWER[0][2:],
        "0x" + "٣" * 40,  # digits of another script are not hex digits
    ],
    ids=["39 digits", "41 digits", "no 0x", "not hex", "0X", "arabic-indic digits"],
)
def test_usdt_an_ethereum_address_of_the_wrong_length_or_not_hex_is_refused(address):
    assert "0x followed by 40 hex digits" in ethereum(address)["address"]


def test_usdt_the_checksum_uses_keccak256_not_hashlib_sha3_256():
    # keccak-256 and SHA3-256 differ only in their padding, which changes every digest
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert hashlib.sha3_256(b"").hexdigest() == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    lower = EIP55_NORMAL[0][2:].lower()
    assert keccak256(lower.encode()) != hashlib.sha3_256(lower.encode()).digest()
    with_sha3 = "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, hashlib.sha3_256(lower.encode()).hexdigest())
    )
    assert with_sha3 != EIP55_NORMAL[0]
    assert ethereum(with_sha3) != {}


# Both


@pytest.mark.parametrize("network", ["", "BTC", "TRC-20", "BEP20", None, 20])
def test_usdt_an_unknown_network_is_refused(network):
    assert set(validate({"network": network, "address": USDT_TRC20_CONTRACT})) == {"network"}


def test_usdt_the_network_is_read_in_any_case():
    assert validate({"network": " trc20 ", "address": USDT_TRC20_CONTRACT}) == {}


def test_usdt_an_address_of_the_other_network_is_refused():
    assert "address" in tron(EIP55_NORMAL[0])
    assert "address" in ethereum(USDT_TRC20_CONTRACT)
