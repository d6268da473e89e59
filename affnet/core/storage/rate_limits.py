"""Rate-limit counters: in this process, or shared by every server through Redis.

Every limit of affnet (ingest per offer key, the stats and report APIs per
token, log-in and sign-up per address, clicks per address) counts here, with
the ``limits`` library, in the storage named by ``rate_limit_storage``:
``memory://`` counts in each process, ``redis://host:6379`` counts once for
every server.

A Redis that does not answer never refuses a call: the counters fall back to
this process's memory (each server then counts on its own, so a limit holds
per process), one warning is logged, and Redis is asked again every
``RETRY_SECONDS``; when it answers, one line says the limits are shared
again. Redis is given short timeouts, so a dead one costs a call at most
``TIMEOUT_SECONDS`` once per ``RETRY_SECONDS`` per thread.
"""

import logging
import math
import threading
import time
from functools import lru_cache
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

log = logging.getLogger("affnet.rate_limits")
RETRY_SECONDS = 10
TIMEOUT_SECONDS = 0.25


@lru_cache(maxsize=64)
def rates(text: str) -> tuple[RateLimitItem, ...]:
    """The limits of a setting's text (``"10 per minute; 100 per hour"``), parsed once per text: a limit set on
    the network settings page is read at each call."""
    return tuple(parse_many(text))


class SweptMemoryStorage(MemoryStorage):
    """The ``memory://`` storage of ``limits``, without its timer thread.

    ``limits`` drops expired counters from a thread that lives 10 ms and is
    started again on nearly every hit: about a hundred threads a second per
    process under load. A counter is checked for expiry whenever it is read,
    so the sweep only frees memory; here it runs inline, once a second."""

    STORAGE_SCHEME = ["affnet-memory"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timer.cancel()  # the one MemoryStorage starts
        self._swept_at = time.monotonic()
        self._sweep_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage.__schedule_expiry
        if time.monotonic() - self._swept_at >= 1 and self._sweep_lock.acquire(blocking=False):
            try:
                self._swept_at = time.monotonic()
                self._MemoryStorage__expire_events()
            finally:
                self._sweep_lock.release()


class RateLimits:
    """The counters of one process. ``hit`` counts a call against limits and says how long to wait;
    ``count`` adds several at once and returns the total (the clicks of one address in a spool batch)."""

    def __init__(self, uri: str):
        self.memory = _Strategies(SweptMemoryStorage())
        self.shared = None
        if not uri.startswith("memory://"):
            self.shared = _Strategies(
                storage_from_string(
                    uri, wrap_exceptions=True, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
                )
            )
            parts = urlsplit(uri)
            self.where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"  # never the password
        self._down_until = 0.0  # while Redis is taken for down: counted in memory until then
        self._outage = False

    def hit(self, limits: tuple[RateLimitItem, ...], *key: str, moving: bool = False) -> int:
        """Count one call under ``key`` against each limit: 0 when it is allowed, else the seconds until it
        would be (for ``Retry-After``). ``moving``: a moving window (log-in tries), else a fixed one."""
        return self._counted(lambda strategies: strategies.wait(limits, key, moving))

    def count(self, key: str, amount: int, expiry: int) -> int:
        """Add ``amount`` to the counter ``key`` (made to live ``expiry`` seconds); returns its total."""
        return self._counted(lambda strategies: strategies.storage.incr(key, expiry, amount=amount))

    def _counted(self, count):
        if self.shared is not None and time.monotonic() >= self._down_until:
            try:
                result = count(self.shared)
            except Exception as failure:  # noqa: BLE001 - whatever Redis raised, a call is never refused for it
                self._went_down(failure)
            else:
                if self._outage:
                    self._outage = False
                    log.warning("rate limits: %s answers again; limits are shared by every server again", self.where)
                return result
        return count(self.memory)

    def _went_down(self, failure: Exception) -> None:
        self._down_until = time.monotonic() + RETRY_SECONDS
        if not self._outage:
            self._outage = True
            cause = getattr(failure, "storage_error", failure)
            log.warning(
                "rate limits: %s does not answer (%s); each process counts on its own until it does",
                self.where,
                cause.__class__.__name__,
            )


class _Strategies:
    """A fixed and a moving window over one storage."""

    def __init__(self, storage):
        self.storage = storage
        self.fixed = FixedWindowRateLimiter(storage)
        self.moving = MovingWindowRateLimiter(storage)

    def wait(self, limits, key, moving: bool) -> int:
        strategy = self.moving if moving else self.fixed
        wait = 0
        for limit in limits:
            if not strategy.hit(limit, *key):
                reset, _ = strategy.get_window_stats(limit, *key)
                wait = max(wait, math.ceil(reset - time.time()), 1)
        return wait
