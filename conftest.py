"""The project's own pytest settings (not part of affnet.testing, which plugin
authors load too)."""

import functools

import pytest
from werkzeug.security import generate_password_hash

# scrypt at its full cost (about 0.1 s a hash, on purpose) is what affnet stores. The tests make thousands
# of accounts, so they hash with the same algorithm at a lower cost (n=1024): a log-in checks whatever cost
# the stored hash names, so nothing else changes.
QUICK_HASH = functools.partial(generate_password_hash, method="scrypt:1024:8:1")


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch):
    from affnet.core.network import accounts, users

    for module in (accounts, users):
        monkeypatch.setattr(module, "generate_password_hash", QUICK_HASH)


def pytest_terminal_summary(terminalreporter):
    """One line per reason tests were skipped (every PostgreSQL test skips
    for the same one), instead of one line per test."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{count} skipped: {reason}", yellow=True)
