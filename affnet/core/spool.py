"""The click spool: clicks written durably without a database round trip.

Each web process appends a click as one JSON line to its own file in
``<instance>/spool/`` with a single ``write()`` before it answers the redirect.
Once ``write()`` returns the line is in the operating system's page cache, so
a process killed with SIGKILL loses nothing it answered (a power cut can lose
the last moments unless ``tracking.spool_fsync`` is on).

Every ``tracking.spool_flush_ms`` a thread of the web process renames its
file to ``*.ready`` (new clicks go to a new file): cheap, no database. The
worker (``affnet worker``, which ``affnet serve`` starts) loads ready files
into the database, each in batches that ignore click ids already present,
then deletes it; the web processes themselves load only files that have
waited ``LOAD_AFTER_SECONDS`` (no worker running), so the click path rarely
shares its process with database work. Loading twice is harmless, which makes
recovery simple: files left by a process that died (its pid is gone) are
claimed by renaming and loaded by whoever finds them first.

When the ingest path does not find a ``click_id``, it loads every spool file
of this machine, open ones included, and looks again (before its
transaction), so a conversion right behind its click attributes on the
machine that took the click; other machines see the click once their worker
has loaded it, within about ``tracking.spool_flush_ms``.
"""
import csv
import io
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

from .db import db, is_postgres
from .models import Click

log = logging.getLogger("affnet.spool")
_BATCH = 2000
LOAD_AFTER_SECONDS = 2.0


class ClickSpool:
    def __init__(self, directory: Path, flush_ms: int = 200, fsync: bool = False):
        self.directory = Path(directory)
        self.flush_seconds = flush_ms / 1000
        self.fsync = fsync
        self.host = socket.gethostname().replace("-", "_")
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pid = None
        self._fd = None
        self._path = None
        self._written = 0
        self._sequence = 0
        self._thread = None
        self._stop = threading.Event()

    # -- writing (the click path) ------------------------------------------
    def append(self, row: dict) -> None:
        """Write one click durably (against a killed process) and return."""
        line = (_ENCODER.encode(row) + "\n").encode()
        with self._lock:
            if self._pid != os.getpid():
                self._open()
            os.write(self._fd, line)
            if self.fsync:
                os.fsync(self._fd)
            self._written += 1

    def _open(self) -> None:
        """Open this process's file (again after a fork) and start its flusher."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._sequence += 1
        self._path = self.directory / f"clicks-{self.host}-{self._pid}-{time.time_ns()}-{self._sequence}.jsonl"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._written = 0
        if self._thread is None or not self._thread.is_alive() or self._thread_pid != self._pid:
            self._stop.clear()
            self._thread_pid = self._pid
            self._thread = threading.Thread(target=self._run, name="affnet-spool-flusher", daemon=True)
            self._thread.start()

    def _rotate(self) -> Path | None:
        """Hand the current file over for loading; new clicks go to a new file."""
        with self._lock:
            if self._fd is None or self._written == 0 or self._pid != os.getpid():
                return None
            os.close(self._fd)
            ready = self._path.with_suffix(".ready")
            os.rename(self._path, ready)
            self._fd = None
            self._pid = None
            return ready

    # -- loading -------------------------------------------------------------
    def flush(self) -> int:
        """Hand over this process's clicks and load every ready or orphaned
        file now; returns the rows loaded."""
        self._rotate()
        return self.load_ready()

    def load_everything(self) -> int:
        """``flush``, then also the clicks in other processes' open files (read
        and inserted, left in place: loading them again later is harmless).
        For a conversion whose click is not in the database yet."""
        loaded = self.flush()
        if not self.directory.exists():
            return loaded
        with self._flush_lock:
            for path in sorted(self.directory.glob(f"clicks-{self.host}-*.jsonl")):
                try:
                    rows = _read_rows(path)
                except FileNotFoundError:
                    continue  # handed over meanwhile: loaded by whoever claimed it
                loaded += self._insert(rows)
        return loaded

    def load_ready(self, min_age: float = 0.0) -> int:
        """Load ready files (at least ``min_age`` seconds old) and files of
        dead processes; returns the rows loaded."""
        with self._flush_lock:
            return sum(self._load(path) for path in self._claim(min_age))

    def _claim(self, min_age: float) -> list[Path]:
        """Claim loadable files of this host by renaming them to ``*.claimed-<pid>``."""
        if not self.directory.exists():
            return []
        now = time.time()
        found = []
        for path in sorted(self.directory.iterdir()):
            name = path.name
            if not name.startswith(f"clicks-{self.host}-"):
                continue
            if ".claimed-" in name:
                claimer = int(name.rsplit("-", 1)[1])
                if claimer == os.getpid() or not _alive(claimer):
                    found.append(path)  # a load that failed here, or whose claimer died: again
                continue
            ready = name.endswith(".ready")
            orphan = not _alive(int(name.split("-")[2]))
            if not (orphan or ready):
                continue
            try:
                if ready and not orphan and now - path.stat().st_mtime < min_age:
                    continue
                claimed = path.with_name(name + f".claimed-{os.getpid()}")
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            found.append(claimed)
        return found

    def _load(self, path: Path) -> int:
        loaded = self._insert(_read_rows(path))
        path.unlink(missing_ok=True)
        return loaded

    def _insert(self, rows: list[dict]) -> int:
        if not rows:
            return 0
        opened = db.is_closed()  # a request thread has its connection open already: keep it
        if opened:
            db.connect()
        try:
            for start in range(0, len(rows), _BATCH):
                with db.atomic():
                    insert_clicks(rows[start:start + _BATCH])
        finally:
            if opened:
                db.close()
        return len(rows)

    # -- the flusher thread ----------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self._rotate()
                self.load_ready(min_age=LOAD_AFTER_SECONDS)
            except Exception:  # the database may be down: the file waits for the next round
                log.exception("loading spooled clicks failed; will try again")

    def run_loader(self, stop: threading.Event) -> None:
        """Load ready files every flush interval until ``stop`` (the worker's loop)."""
        while not stop.wait(self.flush_seconds):
            try:
                self.load_ready()
            except Exception:
                log.exception("loading spooled clicks failed; will try again")

    def close(self) -> None:
        self._stop.set()
        self.flush()


def _read_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.endswith(b"\n"):  # a torn last line was never answered
                rows.append(_decode(json.loads(line)))
    return rows


def insert_clicks(rows: list[dict]) -> None:
    """Insert click rows, skipping click ids already present, by each
    database's fastest path (peewee's ``insert_many`` builds SQL per row).

    On PostgreSQL the rows are copied (``COPY``, CSV) into a temporary table
    and moved from there with one ``INSERT ... ON CONFLICT DO NOTHING``: the
    server parses no SQL per row. Call it inside a transaction."""
    fields = [field for field in Click._meta.sorted_fields if field.name != "id"]
    columns = ", ".join(field.column_name for field in fields)
    values = [tuple(field.db_value(row.get(field.name)) for field in fields) for row in rows]
    cursor = db.cursor()
    if is_postgres():
        buffer = io.StringIO()
        csv.writer(buffer).writerows(values)  # None becomes an empty field: NULL (no click has an empty text)
        buffer.seek(0)
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS click_load ON COMMIT DELETE ROWS "
                       f"AS SELECT {columns} FROM click WITH NO DATA")
        cursor.copy_expert(f"COPY click_load ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.execute(f"INSERT INTO click ({columns}) SELECT {columns} FROM click_load "
                       f"ON CONFLICT (click_id) DO NOTHING")
    else:
        marks = ", ".join("?" * len(fields))
        cursor.executemany(f"INSERT OR IGNORE INTO click ({columns}) VALUES ({marks})", values)


def _alive(pid: int) -> bool:
    """Whether the process that owns a spool file still runs (a zombie, killed
    but not yet reaped by its parent, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, IndexError):
        return True


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


_ENCODER = json.JSONEncoder(default=_encode, separators=(",", ":"))


def _decode(row: dict) -> dict:
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
