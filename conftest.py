"""The project's own pytest settings (not part of affnet.testing, which plugin
authors load too)."""


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
