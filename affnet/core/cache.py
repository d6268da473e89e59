"""Small in-process caches with a time to live.

What they hold may be stale for at most their TTL on another server (there
is no shared state in a process); a change made in this process drops the
entry at once. They keep the click and ingest paths from asking the database
the same question thousands of times a second.
"""
import threading
import time

_MISSING = object()


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
        _caches.append(self)

    def get(self, key, load):
        """The cached value of ``key``, or ``load()`` (cached, None included)."""
        if self.seconds:
            entry = self._entries.get(key, _MISSING)
            if entry is not _MISSING and entry[0] > time.monotonic():
                return entry[1]
        value = load()
        if self.seconds:
            with self._lock:
                if len(self._entries) > 100_000:
                    self._entries.clear()
                self._entries[key] = (time.monotonic() + self.seconds, value)
        return value

    def forget(self, key=None) -> None:
        """Drop one entry, or all of them."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
