"""Money: amounts and currencies, commission rules, the ledger, payouts."""
