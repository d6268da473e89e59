"""The USDT mass-transfer file: the payouts the operator sends from their own
wallet or exchange, in one CSV for its batch send.

The file is UTF-8 CSV (comma-separated, RFC 4180 quoting, CRLF line ends)
with one header line and one line per payout, sorted by network (ERC20
lines, then TRC20 lines: a batch send takes one network at a time), each
network's lines by payout id. Its columns, in this order:

- ``network``: ``TRC20`` or ``ERC20``;
- ``address``: the affiliate's address on that network, checked again here;
- ``amount``: the USDT to send, a plain decimal string (``12.50``) with at
  most 6 decimals, as USDT has on both networks. It is the payout's USD
  amount at par (1 USD of commission = 1 USDT), written exactly as booked:
  nothing is converted or rounded;
- ``payout_id``: affnet's id of the payout;
- ``memo``: the payout's reference (``affnet payout 42``), for a wallet's
  label or memo column. It is not called ``reference``: affnet's import
  would read a column of that name as the hash when ``tx_hash`` is empty;
- ``tx_hash``: empty, for the operator to fill in with each transfer's hash.

affnet's import of recorded hashes reads two of these columns, by their
names in the header line: ``payout_id`` and ``tx_hash``. So this file
itself, once ``tx_hash`` is filled in (header line kept), can be imported as
it is, and so can any CSV whose header names those two columns. Import only
the lines you paid: a line with an empty ``tx_hash`` completes nothing.
"""

import csv
import io
from decimal import Decimal

from affnet.plugins import PayoutRequest, now

from .addresses import address_problem, network_of

USDT_DECIMALS = 6
COLUMNS = ("network", "address", "amount", "payout_id", "memo", "tx_hash")


def usdt_amount(amount: Decimal) -> str:
    """``amount`` (USD) as the USDT the file asks to send: plain decimal
    notation, at most 6 decimals, the same value. Raises ValueError for
    anything but a positive Decimal that 6 decimals hold exactly."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValueError(f"the amount must be a positive Decimal, not {amount!r}")
    scaled = amount.scaleb(USDT_DECIMALS)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"the amount {amount} has more than {USDT_DECIMALS} decimals, which USDT cannot carry")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -USDT_DECIMALS:  # trailing zeros only: checked above
        amount = amount.quantize(Decimal(1).scaleb(-USDT_DECIMALS))
    return format(amount, "f")


def transfer_line(request: PayoutRequest) -> tuple[str, str, str, str, str, str]:
    """The file's line for ``request``, in ``COLUMNS`` order. Raises
    ValueError saying why the payout cannot be in the file."""
    if request.currency != "USD":
        raise ValueError(f"USDT pays USD balances at par, not {request.currency}")
    network = network_of(request.details)
    if network is None:
        raise ValueError(f"the network {request.details.get('network')!r} is neither TRC20 nor ERC20")
    address = request.details.get("address")
    address = address if isinstance(address, str) else ""
    problem = address_problem(network, address)
    if problem:
        raise ValueError(f"the address {address!r}: {problem}")
    return (network, address, usdt_amount(request.amount), str(request.payout_id), request.reference, "")


def transfer_file(requests: list[PayoutRequest]) -> tuple[str, bytes]:
    """``(file name, bytes)`` of the mass-transfer file for ``requests``.

    Raises ValueError naming every payout it cannot write (not USD, an
    amount that is not positive or has more than 6 decimals, a network or
    address that does not check), and writes no file then: a payment file
    is all right or not made."""
    lines, faults = [], []
    for request in requests:
        try:
            lines.append(transfer_line(request))
        except ValueError as fault:
            faults.append(f"payout {request.payout_id}: {fault}")
    if faults:
        raise ValueError("; ".join(faults))
    lines.sort(key=lambda line: (line[0], int(line[3])))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(lines)
    return f"usdt-transfers-{now():%Y%m%d-%H%M%S}.csv", text.getvalue().encode("utf-8")
