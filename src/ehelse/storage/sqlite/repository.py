"""The embedded backend: one SQLite file, WAL, one writer, a pool of readers.

`sqlite:///var/ehelse.sqlite` is a path relative to the working directory,
`sqlite:////srv/ehelse.sqlite` an absolute one (the usual SQLAlchemy-style spelling).

Concurrency (https://www.sqlite.org/wal.html): in WAL mode readers never block the writer
nor each other, and there is one writer at a time. So the repository has one writer
connection, guarded by a lock and used with `BEGIN IMMEDIATE` (the write lock is taken at
the start, so a transaction never fails half-way for want of it), and reader connections,
usable from any thread (the ASGI server runs the synchronous core in a thread pool), with at
most `sqlite_readers` reads at a time from worker threads (gate.py says why). Another process writing the same file (e.g. `ehelse
import` beside a running server) waits on SQLite's busy timeout instead of failing.

Schema: a file without tables (a new file) gets the schema at open, so the embedded default
works with no set-up; an existing file is never migrated behind the user's back --
`ehelse db upgrade` (`repo.upgrade()`) does that, and `migrations_current()` tells the
server whether it is needed. `create=False` opens without creating anything.
"""

from __future__ import annotations

import asyncio
import functools
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ehelse.storage.budget import STEPS_PER_CHECK, ReadBudgetExceeded, check_budget, current_budget, refuse_wait
from ehelse.storage.index import Indexer
from ehelse.storage.sqlite.gate import ReadGate, is_ungated
from ehelse.storage.sqlite.writers import WritersQueue
from ehelse.storage.protocol import ResourceVersion
from ehelse.storage.sqlrepo import READ_BY_ID, SqlRepository
from ehelse.storage.sqlsearch import SearchCompiler

_BUSY_TIMEOUT_MS = 30_000
_CHECKPOINT_SECONDS = 0.5  # between the background checkpoints
_BACKSTOP_PAGES = 10_000  # WAL pages (40 MB) at which a commit checkpoints after all


# Every repository of this process, for what a forked child must not inherit:
# - `<file>-writers` (_writers_lock): the child closes its copy at once. flock(2) belongs to
#   the open file description, which fork shares, so a child that kept the parent's
#   descriptor kept the parent's lock alive after the parent died (SIGKILL inside a write)
#   and every writer of the file then waited for it for good. The close does not unlock:
#   the parent still holds the description. The child opens its own on its first write.
# - the reader gate and the held readers: a slot held by another thread of the parent (or
#   the gate's lock) would be held in the child for good.
_REPOSITORIES: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for repo in list(_REPOSITORIES):
        repo._gate = ReadGate(repo._max_readers)
        repo._held = {}
        fd, repo._writers_file = repo._writers_file, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


os.register_at_fork(after_in_child=_after_fork_in_child)


def sqlite_path(url: str) -> Path:
    """The file a `sqlite:///relative` or `sqlite:////absolute` URL names."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"Not a SQLite URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path")
    path = url[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:":
        raise ValueError("SQLite needs a file (sqlite:///path); :memory: is not supported")
    return Path(path)


@functools.lru_cache(maxsize=64)
def _read_many_sql(count: int) -> str:
    """SELECT of `count` rows by (type, id) and the facts marker (a row with type NULL): a
    join from the VALUES list, so each pair is one primary-key search (a row-value IN over
    the key scans the index instead)."""
    values = ", ".join(["(?, ?)"] * count)
    return (f"WITH wanted(type, id) AS (VALUES {values}) SELECT r.type, r.id, r.version_id, r.last_updated,"
            " r.method, r.content FROM wanted CROSS JOIN resource r ON r.type = wanted.type AND r.id = wanted.id"
            " UNION ALL SELECT NULL, version, NULL, NULL, NULL, NULL FROM facts_version WHERE id = 1")


class SqliteRepository(SqlRepository):
    backend = "sqlite"
    # An update reads its stored index rows and rewrites only those that changed: a read of
    # its own pages is cheap here, every page written costs a WAL frame (sqlrepo._rewrite_index).
    _INDEX_DIFF = True
    # A write transaction holds the write lock from BEGIN IMMEDIATE on: a row read in it is
    # still the current one when the write comes (sqlrepo._current).
    _READ_IS_CURRENT = True
    # A write transaction shuts out every other writer of the file, in every process: what
    # can run before it should (access/repository.py: _checks_first).
    exclusive_writes = True

    def __init__(self, url: str, *, sqlite_readers: int = 4, create: bool = True,
                 indexer: Indexer | None = None, compiler: SearchCompiler | None = None,
                 **other_backends_options: Any) -> None:
        # Options meant for other backends (db_pool_size, schema) are accepted and ignored,
        # so callers can pass the settings through without knowing the backend.
        super().__init__(url, indexer=indexer, compiler=compiler)
        self.path = sqlite_path(url)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        # WAL is a property of the file: set once, by the writer, outside any transaction.
        self._writer.execute("PRAGMA journal_mode=WAL")
        # Checkpoints off the commit path (https://www.sqlite.org/wal.html#ckpt). SQLite's own
        # runs inside the COMMIT that takes the WAL past wal_autocheckpoint (1,000 pages): one
        # page view in a few hundred then paid for copying the WAL into the database and its
        # fsync (250 ms measured on a busy disk) while holding the write lock, which every
        # other writer waited for (issue 8's p99). A thread of this repository checkpoints
        # instead, PASSIVE (it waits for no reader or writer), from the first write on; the
        # commit's own checkpoint stays only as a backstop for a bulk load that outruns it.
        self._writer.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_PAGES}")
        # The writer waits for the write lock in _begin_immediate, not in SQLite's busy handler.
        self._writer.execute("PRAGMA busy_timeout=0")
        self._checkpointer: threading.Thread | None = None
        self._checkpointer_pid = 0
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._writers_file: int | None = None  # the fd of _writers_path, per process
        self._writers_pid = 0
        self._writers_queue: WritersQueue | None = None  # waits for the lock when it is taken (writers.py)
        self._max_readers = max(1, sqlite_readers)
        self._gate = ReadGate(self._max_readers)
        self._held: dict[int, sqlite3.Connection] = {}  # thread id -> its reader, while it reads
        _REPOSITORIES.add(self)
        self._idle_readers: deque[sqlite3.Connection] = deque()  # append/pop are atomic
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self.closing: list[Callable[[], None]] = []  # run at the start of close()
        if create and self._is_empty():
            self.upgrade()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we say BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        # synchronous=NORMAL in WAL mode: a commit survives a crash of the process (the
        # SIGKILL test), and the database is never corrupted; only a power loss or OS crash
        # may undo the last few commits, which is the trade SQLite recommends for WAL
        # (https://www.sqlite.org/pragma.html#pragma_synchronous) and what buys the fsync-free
        # commit that bulk import needs.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-16000")  # 16 MB per connection
        return conn

    def _is_empty(self) -> bool:
        return self._writer.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def _is_missing_table(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)

    # -- connections ------------------------------------------------------------------------
    @staticmethod
    def _checkpoint_loop(owner: weakref.ref, stopping: threading.Event) -> None:
        """Checkpoint every _CHECKPOINT_SECONDS until the repository is closed or, if nobody
        closed it, garbage (the thread holds it weakly, so a forgotten repository does not
        keep a thread and a connection alive for the rest of the process)."""
        conn = None
        try:
            while not stopping.wait(_CHECKPOINT_SECONDS):
                repo = owner()
                if repo is None:
                    return
                try:
                    conn = conn or repo._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy or gone for a moment: the next round checkpoints
                del repo
        finally:
            if conn is not None:
                conn.close()

    @staticmethod
    def _begin_immediate(conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting up to the busy timeout while another process writes.
        SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries
        (sqliteDefaultBusyCallback), so with two server processes committing audit records
        a page often slept 10-20 ms for a lock held well under one: measured in
        bench/clinician_bench.py's `audit` part. Here the tries are 0.1 ms apart, doubling
        to at most 2 ms."""
        delay, deadline = 0.0001, None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + _BUSY_TIMEOUT_MS / 1000
                if now >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.002)

    def _loop_reader(self) -> sqlite3.Connection | None:
        """An idle reader for the event loop's reads by id (web/fhir.py, web/reads.py), the
        server's hottest path: taken and given back without the context managers of _reading
        and _read_conn (a third of the read's cost; bench/read_bench.py). Only in the plain
        case: on a loop (never gated), outside a transaction, a read budget or another read of
        this thread, and with a reader idle; None otherwise, and the caller goes the general way."""
        if (current_budget() is not None or getattr(self._local, "seen", None) is not None
                or asyncio._get_running_loop() is None or threading.get_ident() in self._held):
            return None
        try:
            return self._idle_readers.pop()
        except IndexError:
            return None

    def read(self, type: str, id: str) -> ResourceVersion | None:
        conn = self._loop_reader()
        if conn is None:
            return super().read(type, id)
        try:
            row = conn.execute(READ_BY_ID, (type, id)).fetchone()
        finally:
            self._give_back(conn)
        return ResourceVersion(*row) if row else None

    def read_many(self, keys: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], ResourceVersion], int]:
        """The current rows of these (type, id) pairs and the access facts' marker
        (access/freshness.py), in one statement: one read transaction, one snapshot."""
        sql = _read_many_sql(len(keys))
        params = [part for key in keys for part in key]
        conn = self._loop_reader()
        if conn is None:
            with self._reading() as held:
                rows = self._exec(held, sql, params).fetchall()
        else:
            try:
                rows = conn.execute(sql, params).fetchall()
            finally:
                self._give_back(conn)
        found: dict[tuple[str, str], ResourceVersion] = {}
        marker = 0
        for row in rows:
            if row[0] is None:
                marker = row[1]
            else:
                found[(row[0], row[1])] = ResourceVersion(*row)
        return found, marker

    def _exec(self, conn: sqlite3.Connection, sql: str, params: Any = (), **options: Any) -> Any:
        check_budget()  # within a read budget: spent before this statement? (storage/budget.py)
        return super()._exec(conn, sql, params, **options)

    @contextmanager
    def _begin(self) -> Iterator[sqlite3.Connection]:
        refuse_wait()  # not on the event loop within a read budget (storage/budget.py)
        with self._write_lock:
            if self._closed:
                raise RuntimeError("repository is closed")
            if self._checkpointer is None or self._checkpointer_pid != os.getpid():  # a forked child: its own
                self._checkpointer_pid = os.getpid()
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, args=(weakref.ref(self), self._stopping),
                    name="sqlite-checkpoint", daemon=True)
                self._checkpointer.start()
            conn = self._writer
            writers = self._writers_lock()
            held = None
            if writers is not None:
                # bounded by the busy timeout, like SQLite's own lock (storage/sqlite/writers.py)
                if self._writers_queue is None or self._writers_queue.pid != os.getpid():
                    self._writers_queue = WritersQueue(f"{self.path}-writers")
                held = self._writers_queue.lock(writers, _BUSY_TIMEOUT_MS / 1000)
            try:
                self._begin_immediate(conn)
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if held is not None:
                    fcntl.flock(held, fcntl.LOCK_UN)
                    if held != writers:
                        os.close(held)

    def _writers_lock(self) -> int | None:
        """The file lock that this database's writing processes queue on (`<file>-writers`,
        flock(2)). SQLite's own write lock cannot be waited for, only retried: with two
        server workers the one that found it taken slept 0.1-2 ms per try while the other
        committed in well under one, and the cores stood idle (CRUD benchmark, workers=2).
        In flock the kernel wakes the next writer when the lock is let go. It is taken
        before BEGIN IMMEDIATE, whose retries remain for writers that do not take it (another
        program on the file); the kernel releases it when the last descriptor of its open
        file is closed, so when its process dies provided no forked child still holds a copy
        (_after_fork_in_child). Opened once per process: a forked child would
        otherwise share its parent's open file, and so its flock. None when it cannot be
        opened."""
        if self._writers_file is None or self._writers_pid != os.getpid():
            try:
                fd = os.open(f"{self.path}-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                # A directory this process may not create files in (read-only mount, another
                # owner) while the database itself is writable: write without the queue;
                # BEGIN IMMEDIATE still keeps writers apart, by retrying.
                return None
            self._writers_pid = os.getpid()
            self._writers_file = fd
        return self._writers_file

    @contextmanager
    def _read_conn(self) -> Iterator[sqlite3.Connection]:
        # A read block must not be suspended and resumed on another thread (a generator
        # yielding inside it): the connection is this thread's until the block ends.
        me = threading.get_ident()
        held = self._held.get(me)
        if held is not None:  # a read inside a read on this thread: the same connection
            yield held
            return
        # The event loop's own reads (reads by id, web/fhir.py) never wait at the gate: a
        # loop blocked behind worker threads' searches would stall every request it serves.
        gated = asyncio._get_running_loop() is None and not is_ungated() and self._gate.enter()
        try:
            conn = self._take_reader()
        except BaseException:
            if gated:
                self._gate.leave()
            raise
        self._held[me] = conn
        budget = current_budget()  # the event loop trying a search itself (storage/budget.py)
        if budget is not None:
            conn.set_progress_handler(budget.check, STEPS_PER_CHECK)
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if budget is not None and budget.exceeded:  # SQLITE_INTERRUPT from budget.check
                raise ReadBudgetExceeded() from exc
            raise
        finally:
            self._held.pop(me, None)
            if budget is not None:
                conn.set_progress_handler(None, 0)
            try:
                self._give_back(conn)
            finally:
                if gated:
                    self._gate.leave()

    def _give_back(self, conn: sqlite3.Connection) -> None:
        """Back to the idle readers, unless it is one too many (reads that went ahead of
        the gate, the loops' own) or could not be rolled back: then closed."""
        keep = True
        if conn.in_transaction:  # a read that failed half-way
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                keep = False  # still in its transaction: pooled, it would serve an old snapshot
        if keep and len(self._idle_readers) < self._max_readers + 2:
            self._idle_readers.append(conn)
            if self._closed:  # close() ran meanwhile and left this reader open: close it now
                self._close_idle_readers()
            return
        with self._readers_lock:
            try:
                self._all_readers.remove(conn)
            except ValueError:
                pass
        conn.close()

    def _close_idle_readers(self) -> None:
        while True:
            try:
                conn = self._idle_readers.pop()
            except IndexError:
                return
            conn.close()

    def _take_reader(self) -> sqlite3.Connection:
        # The fast path is one atomic deque.pop(); else a new connection. How many are in
        # use at once is the gate's business (sqlite_readers reads from worker threads, plus
        # the event loops' own), so the pool never waits.
        try:
            return self._idle_readers.pop()
        except IndexError:
            pass
        with self._readers_lock:
            if self._closed:
                raise RuntimeError("repository is closed")
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._all_readers.append(conn)
            return conn

    def pool_stats(self) -> dict[str, int]:
        """Reader connections for /metrics (named like psycopg_pool's figures)."""
        return {"pool_max": self._max_readers, "pool_size": len(self._all_readers),
                "pool_available": len(self._idle_readers), "gate_overflows": self._gate.overflows}

    def close(self) -> None:
        # What others keep for this database runs first, while it is still open (the audit
        # journal's last ingest, audit/journal.py); a failure there does not stop the close.
        for hook in self.closing:
            try:
                hook()
            except Exception:
                logging.getLogger("ehelse").warning("closing hook failed", exc_info=True)
        self.closing = []
        self._stopping.set()
        if (self._checkpointer is not None and self._checkpointer_pid == os.getpid()
                and self._checkpointer is not threading.current_thread()):
            self._checkpointer.join()
        with self._write_lock:
            # Only the idle readers close here. One in use by another thread (a bulk export's
            # sweep, a search still running at shutdown) closes when it comes back
            # (_read_conn): sqlite3_close under a statement that another thread is stepping
            # through is a use after free, which crashed a test process (SIGSEGV in _exec).
            # _closed is set before the idle ones are taken, and a reader is put back before
            # _closed is looked at, so every reader is closed by one side or the other.
            self._closed = True
            self._close_idle_readers()
            self._all_readers.clear()
            self._writer.close()
            if self._writers_file is not None and self._writers_pid == os.getpid():
                os.close(self._writers_file)
                self._writers_file = None
