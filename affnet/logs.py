"""Logging: one format for every process, and an access log that keeps up
with the click path.

Access lines (one per request, with the click id or the event's txid) are
collected and written in one system call per batch, at the latest every
second: a write per click would cost as much as the rest of the redirect.
Everything else is written at once.
"""

import logging
import os
import re
import sys
import threading
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class BatchedLineHandler(logging.Handler):
    """Formats records into memory and writes them to a file descriptor in
    batches of ``capacity`` lines or every ``seconds``."""

    def __init__(self, fd: int = 2, capacity: int = 512, seconds: float = 1.0):
        super().__init__()
        self.fd, self.capacity = fd, capacity
        self._lines: list[str] = []
        self._pid = os.getpid()
        self._seconds = seconds
        self._start_timer()

    def _start_timer(self):
        def run():
            while not stop.wait(self._seconds):
                self.flush()

        stop = threading.Event()
        threading.Thread(target=run, name="affnet-log-flush", daemon=True).start()

    def emit(self, record):
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self.append_line(line)

    def append_line(self, line: str) -> None:
        if self._pid != os.getpid():  # forked: the timer thread stayed in the parent
            self._pid, self._lines = os.getpid(), []
            self._start_timer()
        self._lines.append(line)
        if len(self._lines) >= self.capacity:
            self.flush()

    def flush(self):
        self.acquire()
        try:
            lines, self._lines = self._lines, []
        finally:
            self.release()
        if lines:
            try:
                os.write(self.fd, "".join(lines).encode())
            except OSError:
                pass


def log_text(value: str, limit: int = 200) -> str:
    """``value`` as one field of a log line. Plain printable text without
    spaces is written as it is (the common case costs one check); anything
    else (a CR or LF, another control or invisible character, a space that
    could fake a ``name=value`` field, a long value) is written as Python's
    repr of its first ``limit`` characters: quoted, every such character
    escaped. A request's path or query is the caller's text: decoded from
    ``%0A`` it would otherwise forge a line of its own."""
    if len(value) <= limit and value.isprintable() and " " not in value:
        return value
    return repr(value[:limit])


def quiet_request_handler():
    """The development server's request handler without its own request
    lines: they carry the query string (a stats token in ``?token=``) and a
    reset link's token, and affnet's access log writes each request already."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietRequestHandler(WSGIRequestHandler):
        def log_request(self, code="-", size="-") -> None:
            pass

    return QuietRequestHandler


SECRET_ARGUMENT = re.compile(r"token|key|secret|pass|code|sig", re.IGNORECASE)


def shown_path(path: str, view_args: dict | None) -> str:
    """The request's path fit for the access log: the value of each route
    argument named like a secret (a reset link's ``/reset/<token>``) as ``***``."""
    for name, value in (view_args or {}).items():
        if SECRET_ARGUMENT.search(name) and isinstance(value, str) and value:
            path = path.replace(value, "***")
    return path


def access_writer():
    """A fast ``write(message)`` for the click path: the line goes straight to
    the access log's batch (same format, no LogRecord). None when access
    lines are not logged (level above INFO, or no batched handler)."""
    access = logging.getLogger("affnet.access")
    handlers = [handler for handler in access.handlers if isinstance(handler, BatchedLineHandler)]
    if not handlers or not access.isEnabledFor(logging.INFO):
        return None
    handler = handlers[0]

    def write(message: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
        handler.append_line(f"{stamp} INFO affnet.access {message}\n")

    return write


def configure_logging(level: str) -> None:
    """Root logging at ``level``; ``affnet.access`` batched."""
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr)
    logging.getLogger("affnet").setLevel(level)  # even when the root logger was set up before us
    access = logging.getLogger("affnet.access")
    if any(isinstance(handler, BatchedLineHandler) for handler in access.handlers):
        return
    handler = BatchedLineHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    access.addHandler(handler)
    access.propagate = False
    import atexit

    atexit.register(handler.flush)
