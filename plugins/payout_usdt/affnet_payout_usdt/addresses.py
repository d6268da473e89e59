"""What a USDT address and a USDT transaction hash look like, per network.

USDT moves on two networks here, and money sent to a mistyped address is
gone, so both address checks verify the checksum the network defines:

- ``TRC20`` (TRON): Base58Check, 34 characters starting with ``T``. It
  decodes to 21 bytes, the 0x41 prefix and the 20-byte account, followed by
  4 checksum bytes (the first 4 of the double SHA-256 of the 21), which
  ``base58.b58decode_check`` verifies.
- ``ERC20`` (Ethereum): ``0x`` and 40 hex digits. When the digits mix upper
  and lower case, the case is the EIP-55 checksum: a letter is upper case
  exactly when the matching hex digit of the keccak-256 hash of the
  lower-case address is 8 or more. All-lower and all-upper addresses carry
  no checksum and are taken as they are. Keccak-256 is the original Keccak
  padding, not NIST's SHA3-256 (``hashlib.sha3_256``), whose digest differs.

Every check returns None when the text is right, otherwise one sentence for
the person who typed it.
"""

import re
from typing import Any

import base58
from Crypto.Hash import keccak

from affnet.plugins import N_

TRC20 = "TRC20"
ERC20 = "ERC20"
NETWORKS = (TRC20, ERC20)

TRON_PREFIX = 0x41
TRON_ADDRESS_LENGTH = 34
_BASE58 = frozenset(base58.BITCOIN_ALPHABET.decode())
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def network_of(details: dict[str, Any]) -> str | None:
    """The network the affiliate chose (``TRC20`` or ``ERC20``, read in any
    case, spaces around ignored), or None when it is neither."""
    value = details.get("network")
    network = value.strip().upper() if isinstance(value, str) else ""
    return network if network in NETWORKS else None


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak-256 digest of ``data`` (32 bytes)."""
    return keccak.new(digest_bits=256, data=data).digest()


def eip55(address: str) -> str:
    """The EIP-55 checksummed spelling of ``0x`` + 40 hex digits, in any case."""
    digits = address[2:].lower()
    hashed = keccak256(digits.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(digits, hashed))


def tron_address_problem(address: str) -> str | None:
    """What is wrong with a TRC20 (TRON) address, or None."""
    if not address:
        return N_("Enter your TRC20 (TRON) address.")
    if address != "".join(address.split()):
        return N_("Remove the spaces from the address.")
    if not set(address) <= _BASE58:
        return N_("A TRON address has only Base58 characters (no 0, O, I or l): check what you typed.")
    try:
        decoded = base58.b58decode_check(address)
    except ValueError:
        if len(address) != TRON_ADDRESS_LENGTH or not address.startswith("T"):
            return N_("A TRC20 (TRON) address has 34 characters and starts with T.")
        return N_("This TRON address's checksum does not match: a character is mistyped. Copy it from your wallet.")
    if len(decoded) != 21 or decoded[0] != TRON_PREFIX:
        return N_("This is not a TRON address (it is another network's address): use your TRC20 address.")
    # always so for 0x41 and 20 bytes; checked all the same, as the rule is stated
    if len(address) != TRON_ADDRESS_LENGTH or not address.startswith("T"):
        return N_("A TRC20 (TRON) address has 34 characters and starts with T.")
    return None


def ethereum_address_problem(address: str) -> str | None:
    """What is wrong with an ERC20 (Ethereum) address, or None."""
    if not address:
        return N_("Enter your ERC20 (Ethereum) address.")
    if address != "".join(address.split()):
        return N_("Remove the spaces from the address.")
    if not (address.startswith("0x") and _HEX40.fullmatch(address[2:])):
        return N_("An ERC20 (Ethereum) address is 0x followed by 40 hex digits (0-9, a-f).")
    digits = address[2:]
    if digits in (digits.lower(), digits.upper()):
        return None
    if address != eip55(address):
        return N_(
            "This Ethereum address's checksum (its mix of upper and lower case) does not match: "
            "a character is mistyped. Copy it from your wallet."
        )
    return None


def address_problem(network: str, address: str) -> str | None:
    """What is wrong with ``address`` as an address on ``network``, or None."""
    if network == TRC20:
        return tron_address_problem(address)
    return ethereum_address_problem(address)


def transaction_hash_problem(network: str, reference: str) -> str | None:
    """What is wrong with ``reference`` as the hash of a USDT transfer on
    ``network``, or None: 64 hex digits on TRC20, ``0x`` and 64 hex digits
    on ERC20, in lower case as the explorers show them, so that one hash has
    one spelling and the core's rule that a hash completes one payout cannot
    be dodged by its case. Only the shape is checked: no chain is asked."""
    if not reference:
        return N_("Enter the transaction hash.")
    if reference != "".join(reference.split()):
        return N_("Remove the spaces from the transaction hash.")
    has_0x = reference.startswith("0x")
    digits = reference[2:] if has_0x else reference
    if not _HEX64.fullmatch(digits):
        if network == TRC20:
            return N_("A TRC20 transaction hash is 64 hex digits (0-9, a-f).")
        return N_("An ERC20 transaction hash is 0x followed by 64 hex digits (0-9, a-f).")
    if network == TRC20 and has_0x:
        return N_(
            "A TRC20 transaction hash is 64 hex digits without 0x; 0x and 64 digits is an Ethereum hash: "
            "was this payout sent on ERC20?"
        )
    if network == ERC20 and not has_0x:
        return N_(
            "An ERC20 transaction hash starts with 0x; 64 digits alone is a TRON hash: was this payout sent on TRC20?"
        )
    if digits != digits.lower():
        return N_("Write the transaction hash in lower case, as the explorers show it.")
    return None
