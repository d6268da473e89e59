"""The one source of "now" for the domain, so tests can move time.

All times in affnet are naive datetimes in UTC.
"""

import calendar
from datetime import datetime, UTC

_frozen: datetime | None = None


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None)


def freeze(at: datetime | None) -> None:
    """Make ``now()`` answer ``at`` until ``freeze(None)``; for tests only."""
    global _frozen
    _frozen = at


def iso(moment: datetime | None) -> str | None:
    """A UTC time as ISO 8601 with a Z, as the APIs show it."""
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds") + "Z"


def unix_seconds(moment: datetime) -> int:
    """A naive UTC time as Unix seconds (``datetime.timestamp()`` would read
    a naive time as the server's local time)."""
    return calendar.timegm(moment.utctimetuple())
