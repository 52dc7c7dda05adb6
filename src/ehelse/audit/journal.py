"""The audit journal: on SQLite, records outside a write transaction are appended to a file
of this process's own and moved into `audit_log` in bulk, in the background.

Why: a read by id is the server's hottest path, and its audit record was its largest cost.
Committed to `audit_log` at once, even shared with 30 other reads (trail.py's group
commit), each record cost the writer thread ~30 us of CPU and the event loop ~25 us of
hand-over and wake-up (docs/benchmarks.md, eighth session); most of the commit's cost is the
patient index (`audit_log_patient`, one random leaf page per row, written to the WAL once
per commit). Appended here it costs one write(2) of ~500 bytes on the loop's own thread
(~1 us) and no wait at all, and the rows reach the table later in transactions of hundreds.

Durability before data holds as before: `append()` returns once the kernel has the
bytes, which survives the crash of this process as a commit does under SQLite's
`synchronous=NORMAL` in WAL mode, the setting the database runs with
(https://www.sqlite.org/pragma.html#pragma_synchronous): neither survives the loss of the
machine's power before the operating system wrote its cache out.

Layout: `<database file>-audit/<chain>-<part>.journal`, one line per row, a JSON array of
the row's columns in `record.COLUMNS` order. Each journal is its own hash chain (its own
chain id, sequence and `previous`, record.sealed_digest): rows written here are never rolled
back, so they cannot share a chain with rows of write transactions, which may be
(trail.py). A process holds an exclusive flock(2) on each journal it writes, so a journal
whose lock can be taken belongs to no living process.

Ingest (`ingest()`): in one write transaction, for every journal in the folder, the
complete lines after the offset recorded in `audit_journal` (storage migration 0012) go
into `audit_log` and the offset moves past them, so each row lands exactly once whoever
ingests and whenever a process dies. Who ingests: the writing process, in the background
once enough waits (INGEST_BYTES, INGEST_SECONDS); and every reader of the log first (log.py,
`catch_up`), so what the log answers includes every access recorded before the question,
in any process on this machine. A journal no process holds any longer is deleted once
ingested; a process starts a new part once its journal passes PART_BYTES.

What can go wrong:
- A write(2) that fails (a full disk) may leave part of a line. The request is refused
  (its data is not sent), the journal is closed and its process goes on in a new one, with
  a new chain; the torn tail of the old one is skipped with an error in the log when it is
  ingested, once nobody holds it.
- A line that does not parse (a corrupted file) is skipped with an error in the log; the
  chain then shows the gap (audit/verify.py).
- A crash between ingest's commit and deleting a dead journal: the next ingest finds no
  offset for it and reads it again; its rows are in the table already and are left as
  they are (INSERT OR IGNORE on the chain's primary key).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
import weakref
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from ehelse.audit.record import COLUMNS, event_id, insert_rows, sealed_line
from ehelse.storage.budget import refuse_wait

GENESIS = "0" * 64
SUFFIX = ".journal"
# When the writing process moves its rows into the table: once INGEST_BYTES wait (~30,000
# rows), else once the oldest has waited INGEST_SECONDS. Readers never wait for this (they
# catch up first), so it only sets how many rows share a transaction: a row's share of the
# patient index's random leaf pages, and of the WAL frames readers then look through,
# falls as they grow. One worker over HTTP, the same reads: ingest every 0.5 s cost the
# server 116-140 us per read, every 3 s 105-119 (docs/benchmarks.md, ninth session).
INGEST_SECONDS = 5.0
INGEST_BYTES = 16 * 1024 * 1024
CHECK_SECONDS = 0.5  # how often the ingester looks
PART_BYTES = 64 * 1024 * 1024  # a new part once the journal is this long and ingested
READ_BYTES = 16 * 1024 * 1024  # at most this much of one journal per ingest transaction
_ROWS_PER_STATEMENT = 1000  # 21 columns x 1,000 = 21,000 values per INSERT (SQLite allows 32,766)
_CHUNK_BYTES = 512 * 1024  # lines parsed at a time (~1,000 rows)
_log = logging.getLogger("ehelse")
_commits: dict[Path, int] = {}  # folder -> transactions of this process that moved rows (Journal.commits)


def directory_of(repo: Any) -> Path | None:
    """The journal folder of a SQLite repository's file; None for other backends (on
    PostgreSQL a process's file would be out of reach of the other machines' readers)."""
    path = getattr(repo, "path", None)
    if getattr(repo, "backend", "") != "sqlite" or path is None:
        return None
    return Path(f"{path}-audit")


class Journal:
    """This process's journal for one database (AuditTrail.journal)."""

    def __init__(self, repo: Any, directory: Path):
        self.repo = repo
        self.directory = directory
        self.chain_id = uuid.uuid4().hex[:16]
        self.seq = 0
        self.previous = GENESIS
        self._lock = threading.Lock()  # chain order = file order
        self._fd: int | None = None
        self._pid = 0
        self._part = 0
        self._size = 0  # bytes written to the current part
        self._written = 0  # bytes written in all, and ingested by this process's ingester
        self._ingested = 0
        self._stop = threading.Event()
        self._ingester: threading.Thread | None = None

    @property
    def commits(self) -> int:
        """Transactions of this process that moved journal rows of this folder into the table,
        its ingester's and its readers' (metrics: ehelse_audit_commits_total)."""
        return _commits.get(self.directory, 0)

    # -- writing ------------------------------------------------------------------------------
    def append(self, rows: list[dict[str, Any]]) -> list[str]:
        """Chain the rows (record.row_of / row_for rows) and write them; returns their
        AuditEvent ids once the kernel has them. Raises OSError when they could not be
        written: the caller must not answer with data."""
        if not rows:
            return []
        with self._lock:
            fd = self._open()
            seq, previous = self.seq, self.previous
            lines = []
            for row in rows:
                seq += 1
                row["chain"], row["seq"], row["previous"] = self.chain_id, seq, previous
                lines.append(sealed_line(row))
                previous = row["hash"]
            lines.append(b"")
            data = b"\n".join(lines)
            try:
                _write_all(fd, data)
            except OSError:
                self._abandon()  # the next append starts a new journal and chain
                raise
            self.seq, self.previous = seq, previous
            self._size += len(data)
            self._written += len(data)
        if self._ingester is None:
            self._start_ingester()
        return [event_id(r) for r in rows]

    def _open(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        if self._fd is not None:  # a forked child: the parent's journal and chain are not its own
            try:
                os.close(self._fd)  # its copy only: the parent's lock stays (flock(2))
            except OSError:
                pass
            self.chain_id, self.seq, self.previous, self._part = uuid.uuid4().hex[:16], 0, GENESIS, 0
            self._ingester = None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._part += 1
        path = self.directory / f"{self.chain_id}-{self._part:06d}{SUFFIX}"
        # Made under another name, locked, then renamed into place: an ingester that saw it
        # empty and not yet locked would take it for a dead journal, all in, and delete it,
        # and what this process then wrote would go to a file nobody reads.
        making = path.with_name(path.name + ".new")
        fd = os.open(making, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
        os.rename(making, path)
        self._fd, self._pid, self._size = fd, os.getpid(), 0
        return fd

    def _abandon(self) -> None:
        """After a failed write: let go of this journal (its torn tail is skipped once it is
        ingested) and go on in a new one with a new chain: the old chain's head is unknown."""
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            try:
                os.close(fd)
            except OSError:
                pass
        self.chain_id, self.seq, self.previous, self._part = uuid.uuid4().hex[:16], 0, GENESIS, 0

    def _next_part(self) -> None:
        """A new file for what comes next, once this one is ingested and long (the old one,
        no longer held, is deleted by the next ingest). Same chain."""
        with self._lock:
            if self._fd is None or self._pid != os.getpid() or self._size < PART_BYTES:
                return
            os.close(self._fd)
            self._fd = None
            self._open()

    # -- ingesting ----------------------------------------------------------------------------
    def _start_ingester(self) -> None:
        with self._lock:
            if self._ingester is not None:
                return
            self._ingester = threading.Thread(target=_ingest_loop, args=(weakref.ref(self), self._stop),
                                              name=f"audit-ingest-{self.chain_id}", daemon=True)
            self._ingester.start()

    def ingest_own(self) -> None:
        """What this process wrote since its last ingest (and any journal left behind)."""
        written = self._written
        if written == self._ingested:
            return
        ingest(self.repo, self.directory)
        self._ingested = written
        if self._size >= PART_BYTES:
            self._next_part()

    def close(self) -> None:
        """On the repository's close (a graceful shutdown): the rest goes into the table,
        and the journal, no longer held, is deleted. A failure leaves it for the next
        reader or process."""
        self._stop.set()
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None and self._pid == os.getpid():
                os.close(fd)
        if self._written != self._ingested:
            try:
                ingest(self.repo, self.directory)
                self._ingested = self._written
            except Exception:
                _log.warning("audit journal: ingest at close failed; the next reader ingests it", exc_info=True)


def _ingest_loop(journal_ref: "weakref.ref[Journal]", stop: threading.Event) -> None:
    waiting_since = None  # when rows were first seen waiting
    while not stop.wait(CHECK_SECONDS):
        journal = journal_ref()
        if journal is None or getattr(journal.repo, "_closed", False):
            return
        waiting = journal._written - journal._ingested
        now = time.monotonic()
        if waiting and waiting_since is None:
            waiting_since = now
        if waiting >= INGEST_BYTES or (waiting and now - waiting_since >= INGEST_SECONDS):
            try:
                journal.ingest_own()
                waiting_since = None
            except Exception as exc:  # the database busy or down: the rows wait in the file
                _log.warning("audit journal: ingest failed (%s); trying again", type(exc).__name__)
        del journal


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def pending(directory: Path) -> list[Path]:
    """The journals in the folder (ingested or not)."""
    try:
        return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX))
    except FileNotFoundError:
        return []


def ingest(repo: Any, directory: Path) -> int:
    """Move every journal's complete new lines into `audit_log` (see the module docstring);
    returns the rows moved. Joins the caller's write transaction when it has one."""
    files = pending(directory)
    if not files or not _work_in(repo, files):
        return 0
    refuse_wait()  # a write: never on the event loop within a read budget (storage/budget.py)
    moved, dead = 0, []
    while True:
        more = False
        with repo._writing() as conn:
            offsets = dict(conn.execute("SELECT file, position FROM audit_journal").fetchall())
            before = moved
            for path in files:
                count, done, left = _ingest_file(repo, conn, path, offsets.get(path.name, 0))
                moved += count
                more = more or left
                if done:
                    conn.execute("DELETE FROM audit_journal WHERE file = ?", (path.name,))
                    dead.append(path)
        if moved > before:
            _commits[directory] = _commits.get(directory, 0) + 1
        for path in dead:  # after the commit: a crash before this re-reads it (module docstring)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        if not more:
            return moved
        files, dead = [p for p in files if p not in dead], []


def _work_in(repo: Any, files: list[Path]) -> bool:
    """Whether a move would do anything: a journal with bytes past its offset, or one that
    nobody holds any more (to delete). Asked with a read, so that a reader of the log does
    not take the write lock when everything is in already (each live process keeps its
    journal file, moved or not)."""
    with repo._reading() as conn:
        offsets = dict(conn.execute("SELECT file, position FROM audit_journal").fetchall())
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            if os.fstat(fd).st_size > offsets.get(path.name, 0) or not _held(fd):
                return True
        finally:
            os.close(fd)
    return False


def _ingest_file(repo: Any, conn: Any, path: Path, offset: int) -> tuple[int, bool, bool]:
    """One journal's next lines, in the open transaction: (rows moved, whether the file is
    done with (nobody holds it and all of it is in), whether more is left to read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0, True, False
    try:
        held = _held(fd)
        size = os.fstat(fd).st_size
        data = os.pread(fd, min(size - offset, READ_BYTES), offset) if size > offset else b""
    finally:
        os.close(fd)
    end = data.rfind(b"\n") + 1
    left = offset + len(data) < size
    position = offset + end
    if not held and not left and end < len(data):
        _log.error("audit journal %s: %d bytes of a torn last line skipped", path.name, len(data) - end)
        position = offset + len(data)
    # A chunk of lines at a time, parsed and inserted: the GIL is held while orjson parses
    # and while sqlite3 binds a statement's values, and let go while SQLite steps. Parsed
    # whole, 16 MB held it for tens of milliseconds, a stall of every request of the process.
    moved, start = 0, 0
    while start < end:
        stop = data.rfind(b"\n", start, start + _CHUNK_BYTES) + 1 or data.find(b"\n", start) + 1
        rows = _parse(data[start:stop].split(b"\n")[:-1], path.name, offset + start)
        for first in range(0, len(rows), _ROWS_PER_STATEMENT):
            part = rows[first:first + _ROWS_PER_STATEMENT]
            conn.execute(insert_rows(len(part), or_ignore=True), list(chain.from_iterable(part)))
        moved += len(rows)
        start = stop
    if position != offset:
        conn.execute("INSERT INTO audit_journal (file, position) VALUES (?, ?) "
                     "ON CONFLICT (file) DO UPDATE SET position = excluded.position", (path.name, position))
    return moved, not held and position >= size, left


def _parse(lines: list[bytes], name: str, offset: int) -> list[list[Any]]:
    """The rows of these lines. All of them as one JSON array first (one call into
    orjson, no Python per row); when that fails, line by line, skipping what is not a row."""
    if not lines:
        return []
    try:
        rows = orjson.loads(b"[%s]" % b",".join(lines))
        if all(type(row) is list and len(row) == len(COLUMNS) for row in rows):
            return rows
    except orjson.JSONDecodeError:
        pass
    rows = []
    for line in lines:
        try:
            values = orjson.loads(line)
            if not isinstance(values, list) or len(values) != len(COLUMNS):
                raise ValueError("not a row")
        except (orjson.JSONDecodeError, ValueError):
            _log.error("audit journal %s: a line at or after byte %d is not a row; skipped (the chain shows the gap)",
                       name, offset)
            continue
        rows.append(values)
    return rows


def _held(fd: int) -> bool:
    """Whether a process holds the journal (its writer's exclusive lock)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False
