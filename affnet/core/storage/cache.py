"""Small in-process caches with a time to live.

What they hold may be stale for at most their TTL on another server (there
is no shared state in a process); a change made in this process drops the
entry at once. They keep the click and ingest paths from asking the database
the same question thousands of times a second.

A cache asked to (``get(..., stale_on=...)``) also answers while loading
fails: with the last value it loaded, however old, and for ``RETRY_SECONDS``
after a failure it does not try again, so a database that is down (or a
network that drops packets and makes every connect wait) costs one request
the wait, not every request. The click path uses it to keep redirecting
while the database is unreachable.
"""

import threading
import time

_MISSING = object()
RETRY_SECONDS = 1.0


_caches: list["TTLCache"] = []


def configure(seconds: float) -> None:
    """Set the TTL of every cache (the ``cache_seconds`` setting) and empty them."""
    for cache in _caches:
        cache.seconds = seconds
        cache.forget()


class TTLCache:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict = {}
        self._lock = threading.Lock()
        self._failing_until = 0.0
        _caches.append(self)

    def get(self, key, load, stale_on: tuple = ()):
        """The cached value of ``key``, or ``load()`` (cached, None included).

        When ``load()`` raises one of ``stale_on``, the last value loaded for
        ``key`` is returned instead (kept even with a TTL of 0), or the error
        is raised when there is none; for ``RETRY_SECONDS`` after such a
        failure ``load`` is not called, and the error is raised again for a
        key never loaded."""
        entry = self._entries.get(key, _MISSING)
        now = time.monotonic()
        if entry is not _MISSING and entry[0] > now:
            return entry[1]
        if stale_on:
            if now < self._failing_until:
                if entry is _MISSING:
                    raise self._failure[0](*self._failure[1])  # a new one: re-raising one object grows its traceback
                return entry[1]
            try:
                value = load()
            except stale_on as failure:
                self._failure = (type(failure), failure.args)
                self._failing_until = time.monotonic() + RETRY_SECONDS
                if entry is _MISSING:
                    raise
                return entry[1]
        else:
            value = load()
        if self.seconds or stale_on:
            with self._lock:
                if len(self._entries) > 100_000:
                    self._entries.clear()
                self._entries[key] = (time.monotonic() + self.seconds, value)
        return value

    def forget(self, key=None) -> None:
        """Drop one entry, or all of them (and the memory of a failed load)."""
        with self._lock:
            if key is None:
                self._entries.clear()
                self._failing_until = 0.0
            else:
                self._entries.pop(key, None)
