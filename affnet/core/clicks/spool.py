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
then deletes it (counting each address's clicks on the way:
``click_limit``); the web processes themselves load only files that have
waited ``LOAD_AFTER_SECONDS`` (no worker running), so the click path rarely
shares its process with database work. Loading twice is harmless, which makes
recovery simple: files left by a process that died (its pid is gone) are
claimed by renaming and loaded by whoever finds them first.

When the ingest path does not find a ``click_id``, it looks for that click
in every spool file of this machine, whatever its state (open, ready, or
claimed by a loader that has not committed yet), inserts it and looks again
(before its transaction), so a conversion right behind its click attributes
on the machine that took the click, also when several arrive at once; other
machines see the click once their worker has loaded it, within about
``tracking.spool_flush_ms``.

A line the database refuses (one written by hand or by an older version:
not JSON, no valid ``created_at``, a lone surrogate) never holds back the
others: each file is loaded on its own, its good rows are inserted, and the
refused lines are set aside, as they were read, in ``spool/quarantine/``
with one ERROR line in the log. ``affnet spool status`` counts what waits in
each state; ``affnet spool load-quarantined`` loads set-aside lines again
(after a fix). While the database does not answer, files stay where they are
and are loaded once it is back.
"""

import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import peewee
import psycopg2

from ...logs import log_text
from ..storage.db import db
from ..storage.sql import insert_clicks
from . import rollup
from .tracking import storable

log = logging.getLogger("affnet.spool")
_BATCH = 2000
LOAD_AFTER_SECONDS = 2.0
QUARANTINE = "quarantine"
# What the database raises for a row it will not store (the row's fault, not the database's): such
# rows are set aside. Anything else (the database is down, locked, or its schema is not there yet)
# leaves the file to be loaded again.
_REFUSED = (
    peewee.DataError,
    peewee.IntegrityError,
    psycopg2.DataError,
    psycopg2.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    UnicodeError,
    ValueError,
    TypeError,
)
_CLICK_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # what tracking.new_click_id makes
_RELISTS = 3


class ClickSpool:
    def __init__(self, directory: Path, flush_ms: int = 200, fsync: bool = False, flag_clicks=None):
        self.directory = Path(directory)
        self.flag_clicks = flag_clicks or (lambda rows: None)  # marks clicks over a limit before they are stored
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

    def load_click(self, click_id) -> bool:
        """Find one click in this machine's spool files, whatever their state,
        and insert it (committed; a copy already there or being inserted by
        another loader is waited for and left alone). For a conversion whose
        click is not in the database yet. True when the click was found."""
        if not isinstance(click_id, str) or not _CLICK_ID.fullmatch(click_id) or not self.directory.exists():
            return False
        wanted = f'"{click_id}"'.encode()
        for _ in range(_RELISTS):
            renamed = False
            for path in sorted(self.directory.glob(f"clicks-{self.host}-*")):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # renamed for loading, or loaded and deleted: list again
                    renamed = True
                    continue
                row = _find_row(data, wanted, click_id)
                if row is not None:
                    self._insert([row])
                    return True
            if not renamed:
                return False
        return False

    def load_ready(self, min_age: float = 0.0) -> int:
        """Load ready files (at least ``min_age`` seconds old) and files of
        dead processes, each on its own; returns the rows loaded. Stops at the
        first file the database could not take for a reason of its own (it
        is down): the files stay claimed and are loaded on the next round."""
        loaded = 0
        with self._flush_lock:
            for path in self._claim(min_age):
                try:
                    loaded += self._load(path)
                except Exception as error:
                    if isinstance(error, OSError) or _database_error(error):
                        raise  # the database (or the disk) failed, not this file: the next round
                    log.exception("loading %s failed; will try again", path.name)
        return loaded

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
        """Load one claimed file: its good rows are inserted, the lines the
        database refuses go to the quarantine, then the file is deleted."""
        result = self._insert_lines(_read_lines(path))
        if result.refused:
            kept = self._set_aside(path.name.split(".", 1)[0] + ".jsonl", result.refused)
            log.error(
                "spool file %s: %d of %d lines set aside in %s (first: %s); "
                "fix them, then: affnet spool load-quarantined",
                path.name,
                len(result.refused),
                result.loaded + len(result.refused),
                kept,
                log_text(result.first_reason),
            )
        path.unlink(missing_ok=True)
        return result.loaded

    def _insert_lines(self, lines: list[bytes]) -> "_Loaded":
        """Insert the rows of ``lines``; returns what was loaded and refused."""
        result = _Loaded()
        rows = []
        for number, line in enumerate(lines):
            try:
                rows.append((number, _decode(json.loads(line))))
            except _REFUSED + (KeyError, AttributeError) as error:  # not JSON, not an object, no valid created_at
                result.refuse(number, error)
        self.flag_clicks([row for _, row in rows])
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            try:
                self._insert([row for _, row in batch])
                result.loaded += len(batch)
            except _REFUSED:
                for number, row in batch:  # find the rows it refuses, one by one
                    try:
                        self._insert([row])
                        result.loaded += 1
                    except _REFUSED as error:
                        result.refuse(number, error)
        result.refused = [lines[number] for number in sorted(result.refused)]  # in the file's order
        return result

    def _set_aside(self, name: str, lines: list[bytes]) -> Path:
        """Append ``lines`` to the quarantine file ``name`` (durably); returns it."""
        directory = self.directory / QUARANTINE
        directory.mkdir(mode=0o700, exist_ok=True)
        target = directory / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        return target

    def quarantined(self) -> list[Path]:
        directory = self.directory / QUARANTINE
        return sorted(directory.glob("*.jsonl")) if directory.exists() else []

    def load_quarantined(self, paths: list[Path] | None = None) -> tuple[int, int]:
        """Load set-aside lines again (after they were fixed, or after an
        upgrade that stores them); lines still refused stay in their file.
        Returns (rows loaded, lines still refused)."""
        loaded = refused = 0
        with self._flush_lock:
            for path in paths if paths is not None else self.quarantined():
                result = self._insert_lines(_read_lines(path))
                loaded += result.loaded
                refused += len(result.refused)
                if result.refused:
                    fresh = path.with_name(path.name + f".{os.getpid()}.tmp")
                    fresh.write_bytes(b"".join(result.refused))
                    os.chmod(fresh, 0o600)
                    os.replace(fresh, path)
                else:
                    path.unlink()
        return loaded, refused

    def status(self) -> dict:
        """Files and lines waiting in each state, for ``affnet spool status``."""
        states = {state: {"files": 0, "lines": 0} for state in ("open", "ready", "claimed", "orphaned", "quarantined")}
        paths = sorted(self.directory.glob("clicks-*")) if self.directory.exists() else []
        for path in paths + self.quarantined():
            name = path.name
            if path.parent.name == QUARANTINE:
                state = "quarantined"
            elif ".claimed-" in name:
                state = "claimed" if _alive(int(name.rsplit("-", 1)[1])) else "orphaned"
            elif name.endswith(".ready"):
                state = "ready"
            else:
                state = "open" if _alive(int(name.split("-")[2])) else "orphaned"
            try:
                lines = path.read_bytes().count(b"\n")
            except FileNotFoundError:
                continue
            states[state]["files"] += 1
            states[state]["lines"] += lines
        return states

    def _insert(self, rows: list[dict]) -> int:
        if not rows:
            return 0
        opened = db.is_closed()  # a request thread has its connection open already: keep it
        if opened:
            db.connect()
        try:
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                with db.atomic():
                    insert_clicks(batch)
                    rollup.reopen(min(row["created_at"] for row in batch))
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


@dataclass
class _Loaded:
    loaded: int = 0
    refused: list = field(default_factory=list)  # the refused lines (their numbers while loading)
    first_reason: str = ""

    def refuse(self, number: int, error: Exception) -> None:
        if not self.refused:
            self.first_reason = f"{error.__class__.__name__}: {error}"[:300]
        self.refused.append(number)


def _read_lines(path: Path) -> list[bytes]:
    """The whole lines of a spool file (a torn last line was never answered)."""
    with open(path, "rb") as handle:
        return [line for line in handle if line.endswith(b"\n") and line.strip()]


def _find_row(data: bytes, wanted: bytes, click_id: str) -> dict | None:
    """The row of ``click_id`` among a spool file's lines, or None."""
    at = data.find(wanted)
    while at != -1:
        start, end = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at)
        if end == -1:
            return None  # a line still being written
        try:
            row = _decode(json.loads(data[start:end]))
        except _REFUSED + (KeyError, AttributeError):
            row = None
        if row is not None and row.get("click_id") == click_id:
            return row
        at = data.find(wanted, end)
    return None


def _database_error(error: Exception) -> bool:
    return isinstance(error, (peewee.PeeweeException, psycopg2.Error, sqlite3.Error))


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
    """A spool line's row as ``insert_clicks`` takes it (values cleaned as the
    click path cleans them, for files an older version wrote). A text that
    is not valid Unicode (a lone surrogate) raises UnicodeEncodeError here:
    PostgreSQL's COPY would report it as a cancelled statement."""
    for name, value in row.items():
        if isinstance(value, str):
            value.encode()
            row[name] = storable(value)
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
