"""Clicks per IP address over ``tracking.click_rate_limit``: flagged, never refused.

A click is answered before anything counts it: the click path has no
counter and no network call. Clicks are counted when the spool is loaded
into the database (by the worker, in batches), per address and per window
of the click's own time, so a backlog loaded late (after a database outage)
counts where its clicks belong. The counters are the app's ``RateLimits``:
with ``rate_limit_storage`` at Redis, the clicks an address sent through
every server count together. A click beyond the limit in its window is
stored with ``is_over_limit`` and is never unique; it was redirected like
any other, and it still attributes its conversions.
"""

import logging
from collections import defaultdict

from .. import clock
from ..storage.rate_limits import rates

log = logging.getLogger("affnet.clicks")
# A window's counter outlives the window by this long, for the clicks of that window loaded late.
LATE_SECONDS = 300


class ClickLimit:
    def __init__(self, settings, counters):
        self.settings = settings  # the limit is a network policy: read at each load
        self.counters = counters

    def flag(self, rows: list[dict]) -> None:
        """Count ``rows`` (clicks about to be inserted) and mark those over the limit. Never raises: a click is
        loaded whether or not it could be counted."""
        try:
            self._flag(rows)
        except Exception:  # noqa: BLE001 - counting is an extra: the clicks are loaded all the same
            log.exception("clicks could not be counted against tracking.click_rate_limit")

    def _flag(self, rows: list[dict]) -> None:
        windows = defaultdict(list)
        for limit in rates(self.settings["tracking.click_rate_limit"]):
            period = limit.get_expiry()
            for row in rows:
                if row.get("ip"):
                    window = clock.unix_seconds(row["created_at"]) // period
                    windows[limit.key_for("clicks", row["ip"], str(window)), limit.amount, period].append(row)
        for (key, amount, period), clicks in windows.items():
            counted = self.counters.count(key, len(clicks), period + LATE_SECONDS) - len(clicks)
            clicks.sort(key=lambda row: row["created_at"])
            for row in clicks[max(amount - counted, 0) :]:
                row["is_over_limit"] = True
                row["is_unique"] = False
