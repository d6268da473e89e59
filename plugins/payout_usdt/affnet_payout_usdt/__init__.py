"""USDT payouts on TRC20 (TRON) and ERC20 (Ethereum): the ``usdt`` payout method.

No private key is ever held: the operator pays from their own wallet or
exchange. A payout goes into a mass-transfer file (``affnet_payout_usdt.transfers``),
and completes when the operator records its transaction hash. USD balances
are paid at par: 1 USD of commission is 1 USDT. Enable it with
``plugins.enabled = ["payout_usdt"]``; the hooks are in ``affnet_payout_usdt.plugin``,
the address and hash checks in ``affnet_payout_usdt.addresses``.
"""
