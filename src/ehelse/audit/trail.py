"""AuditTrail: append audit records durably, as a tamper-evident hash chain per process.

A record is one row of `audit_log` (audit/log.py, record.py): callers hand in AuditEvents
(events.audit_event) and the trail stores their compact rows. Each row carries its chain
id (one per AuditTrail, so one per server process and database), its sequence number in
the chain, the previous row's hash and its own (record.digest, over every other column).
Changing a row breaks its hash; removing one leaves a gap; inserting one breaks a
sequence or a `previous` (verify.py reports each).

Durability before data (the issue: "no patient data leaves the server before its audit
record is durable"): `record()` returns only after the rows are committed, `submit()`'s
future and `durable()` complete only then. Concurrent requests share commits (group
commit): whoever flushes writes every row queued so far in one transaction, and the others
find theirs done. Inside a write transaction (`transaction()`), rows join that transaction,
so a write and its audit commit together or not at all.

The event loop (web/fhir.py, reads by id) uses `durable(rows)`: one writer, many waiting
reads, one transaction. The rows of every read the loop runs wait in a list on the loop;
once as many wait as in the loop's last batch (up to GATHER_ROWS) or GATHER_SECONDS
have passed, and no commit of theirs is in flight, the next loop iteration hands all of
them to the writer thread as one batch (so the reads that were ready together commit
together), and while one is in flight, new rows gather for the next. The writer thread
commits the batch (one BEGIN, one executemany or on PostgreSQL one COPY, one COMMIT: one
fsync where the backend makes one; log.appending) and tells the loop once per batch
(`call_soon_threadsafe`), which wakes every read of the batch. So a read costs the loop no
thread hop and no wake-up of its own, and with 32 concurrent readers a commit holds tens
of rows (tests/audit/test_loop_commit.py). On SQLite the batch's commit is instead one
write(2) to the process's audit journal, on the loop (audit/journal.py): the reads keep
being answered together, which is what makes the HTTP side cheap, with no thread at all.

When something fails (tests/audit/test_trail_faults.py): a failed commit fails every
request of its batch (none is answered with data) and leaves the chain where it was; but
a commit that failed after it was sent may have landed all the same (a lost reply), and
one that met a seq already taken shows another writer on the chain id, so then the next
write first reads the chain's last row back (_resync) instead of reusing its seq. A
value no backend stores (NUL, a lone surrogate) is stored as U+FFFD (record.sealed_digest)
rather than failing the other requests' rows in its commit. A waiter that gave up, or a
writer thread that cannot start, never leaves the writer dead or the loop's batcher busy.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
import weakref
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ehelse.storage.budget import refuse_wait
from ehelse.audit import log
from ehelse.audit.journal import Journal, directory_of
from ehelse.audit.record import event_id, row_of, sealed_digest
from ehelse.errors import FhirError

GENESIS = "0" * 64


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    future: Future = field(default_factory=Future)


@dataclass
class AuditTrail:
    repo: Any
    chain_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    seq: int = 0
    previous: str = GENESIS
    commits: int = 0  # transactions written (to see group commit at work)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # chain order and write order
    _queue: list[_Pending] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _writer: threading.Thread | None = None
    _owner: int | None = None  # thread inside transaction()
    # A commit failed in a way that leaves the chain's head in the table unknown: after it
    # was sent (a lost reply: a database restart, a dropped link, so it may have landed), or
    # on a seq the table holds already (another writer on this chain id). seq/previous are
    # then read back from the table before the next write (_resync), or that write would
    # take a seq the table holds already, and so would every write after it.
    _unsure: bool = False
    # Per event loop: the rows waiting to be handed to the writer (durable()). Weak keys: a
    # closed loop (a test's) takes its batcher with it.
    _batchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatcher]" = field(
        default_factory=weakref.WeakKeyDictionary)
    # On SQLite: where records outside a write transaction go (audit/journal.py), a chain of
    # its own; None on other backends, or when made with use_journal=False (the group
    # commit's tests), and then they go to this chain by group commit.
    use_journal: bool = True
    journal: Journal | None = None

    def __post_init__(self) -> None:
        directory = directory_of(self.repo) if self.use_journal else None
        if directory is not None:
            self.journal = Journal(self.repo, directory)
            closing = getattr(self.repo, "closing", None)
            if closing is not None:  # a graceful shutdown moves the rest into the table
                closing.append(self.journal.close)

    @property
    def outside(self) -> Any:
        """The chain that records outside a write transaction join: the journal's, or this
        trail's own (each has chain_id, seq and commits)."""
        return self.journal if self.journal is not None else self

    def record(self, events: list[dict[str, Any]]) -> list[str]:
        """Append the events; returns their AuditEvent ids once they are durable (or part
        of the caller's open transaction). Raises if they could not be written: the caller
        must not answer."""
        if not events:
            return []
        refuse_wait()  # a write: never on the event loop within a read budget (storage/budget.py)
        rows = [row_of(e) for e in events]
        if self._owner == threading.get_ident():
            self._append(rows)  # inside transaction(): commits with the caller's writes
            return [event_id(r) for r in rows]
        if self.journal is not None:
            return self.journal.append(rows)
        item = self._enqueue(rows)
        self._flush()
        return item.future.result()

    def submit(self, events: list[dict[str, Any]]) -> Future:
        """Queue the events for the writer thread; the future gives their ids once they are
        durable (or the error). For callers that must not block: await it (asyncio.wrap_future)."""
        done: Future = Future()
        if not events:
            done.set_result([])
            return done
        if self.journal is not None:  # written now (audit/journal.py): nothing to wait for
            try:
                done.set_result(self.journal.append([row_of(e) for e in events]))
            except OSError as exc:
                done.set_exception(exc)
            return done
        item = self._enqueue([row_of(e) for e in events])
        self._start_writer()
        self._wake.set()
        return item.future

    async def durable(self, rows: list[dict[str, Any]]) -> None:
        """For the event loop: returns once these log rows (record.row_of / row_for) are
        committed; raises what the commit raised, and then the caller must not answer.
        Rows of concurrent callers on this loop share one transaction (module docstring)."""
        if not rows:
            return
        await self._loop_batcher().add(rows)

    def when_durable(self, rows: list[dict[str, Any]], then: Callable[[BaseException | None], None]) -> None:
        """For the event loop, from a callback (web/reads.py: a batch of reads by id, whose
        rows are already one batch): `then(None)` once these rows are durable, or
        `then(error)` when they could not be written, and then nothing they cover may be
        answered with data. On SQLite the journal takes them at once, so `then` runs before
        this returns; elsewhere they join the loop's next group commit."""
        if not rows:
            then(None)
            return
        if self.journal is not None:
            try:
                self.journal.append(rows)
            except OSError as exc:
                then(exc)
            else:
                then(None)
            return
        done = self._loop_batcher().add(rows)
        done.add_done_callback(lambda future: then(None if future.cancelled() else future.exception()))

    def _loop_batcher(self) -> "_LoopBatcher":
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers.setdefault(loop, _LoopBatcher(self, loop))
        return batcher

    def _enqueue(self, rows: list[dict[str, Any]]) -> _Pending:
        item = _Pending(rows)
        with self._queue_lock:
            self._queue.append(item)
        return item

    def _flush(self) -> None:
        """Write every queued row in one transaction (group commit)."""
        with self._lock:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            # A future cancelled while queued (submit()'s, awaited through wrap_future) is
            # left out: its caller gave up and will not answer. The rest can no longer be
            # cancelled, so setting their results below cannot raise.
            batch = [p for p in batch if p.future.set_running_or_notify_cancel()]
            if not batch:
                return  # another flush took ours: its future is set already
            seq, previous = self.seq, self.previous
            try:
                self._resync()
                with log.appending(self.repo) as append:  # its own transaction (COPY on PostgreSQL)
                    self._append([r for p in batch for r in p.rows], append)
                self.commits += 1
            except BaseException as exc:
                self.seq, self.previous = seq, previous  # not committed: not in the chain
                # ... unless it landed unheard, or the seq was taken: a failure of the
                # trail's own commit is rare (its values are storable), so any one costs
                # the next commit a look at the table's last row.
                self._unsure = True
                for p in batch:
                    p.future.set_exception(exc)
                return
            for p in batch:
                p.future.set_result([event_id(r) for r in p.rows])

    def _resync(self) -> None:
        """After a commit that may have landed (_unsure): the chain goes on from its last
        row in the table. Under _lock; raises if the table cannot be read (the write that
        needed it fails, and the next one tries again)."""
        if self._unsure:
            self.seq, self.previous = log.chain_head(self.repo, self.chain_id) or (0, GENESIS)
            self._unsure = False

    def _start_writer(self) -> None:
        if self._writer is not None:
            return
        with self._queue_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name=f"audit-{self.chain_id}", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self._flush()
            except Exception:  # a bug: the thread must live on, or every later durable() waits forever
                logging.getLogger("ehelse").exception("audit trail writer")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that audit records join. The chain lock is taken before the
        database's write lock, as _flush() does, so the two never wait on each other."""
        if self._owner == threading.get_ident():
            yield
            return
        refuse_wait()  # a write: never on the event loop within a read budget (storage/budget.py)
        with self._lock:
            self._resync()
            self._owner = threading.get_ident()
            seq, previous = self.seq, self.previous
            sent = False
            try:
                with self.repo.transaction():
                    yield
                    sent = True  # an error from here on is the COMMIT's: it may have landed
                self.commits += 1
            except BaseException as exc:
                self.seq, self.previous = seq, previous  # rolled back: the chain never had them
                # A refusal the write raised itself (a FHIR 4xx, before the COMMIT) is common
                # and certain; the database's own errors (a seq taken) and the COMMIT's are not.
                self._unsure = self._unsure or sent or not isinstance(exc, FhirError)
                raise
            finally:
                self._owner = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside transaction(), in its thread: a block whose writes and audit rows are undone
        alone if it raises (the repository's savepoint, and the chain back where it was), the
        rest of the transaction kept. web/writes.py runs each of several writes in one."""
        if self._owner != threading.get_ident():
            raise RuntimeError("savepoint() outside the trail's transaction")
        seq, previous = self.seq, self.previous
        try:
            with self.repo.savepoint():
                yield
        except BaseException:
            self.seq, self.previous = seq, previous
            raise

    def _append(self, rows: list[dict[str, Any]], append: Any = None) -> None:
        """Chain the rows and write them: with `append` (log.appending's) in the trail's own
        transaction, else in the open one of the repository."""
        seq, previous = self.seq, self.previous
        try:
            for row in rows:
                self.seq += 1
                row.update(chain=self.chain_id, seq=self.seq, previous=self.previous)
                row["hash"] = self.previous = sealed_digest(row)
            if append is not None:
                append(rows)
            else:
                log.insert(self.repo, rows)
        except BaseException:
            self.seq, self.previous = seq, previous
            raise


# How the loop gathers rows for one commit (_LoopBatcher). A commit costs the writer a fixed
# part (BEGIN, COMMIT, the WAL's right-edge pages, two thread wake-ups: ~70 us of CPU) and
# ~22 us per row (mostly the patient index, audit_log_patient: one random leaf per row), so
# 4 rows per commit cost 44 us a row and 32 cost 27 (docs/benchmarks.md, fourth session).
# Handed over as soon as the writer was free, reads over HTTP made commits of 4-15 rows:
# the commit is quick, so few reads finish during one. So a batch waits until it holds as
# many rows as the one before it (up to GATHER_ROWS), or GATHER_SECONDS have passed: a
# steady stream of concurrent reads forms batches of GATHER_ROWS, while a lone client (its
# batches are one row) never waits, and a load that falls away costs one timed-out wait,
# after which the target is what came.
GATHER_ROWS = 32
GATHER_SECONDS = 0.004


class _LoopBatcher:
    """The loop's side of durable(): rows wait here (touched only on the loop's thread, so
    no lock) until the writer thread takes them as one batch; at most one batch of this
    loop is in flight, so everything that arrives meanwhile shares the next commit."""

    def __init__(self, trail: AuditTrail, loop: asyncio.AbstractEventLoop):
        self.trail = trail
        self._loop = weakref.ref(loop)  # the trail holds loops weakly: no cycle back to it
        self.waiting: list[tuple[list[dict[str, Any]], asyncio.Future]] = []
        self.rows = 0  # rows in `waiting`
        self.busy = False  # a batch is scheduled or being committed
        self.target = 1  # rows the next batch waits for (the last batch's size, bounded)
        self._timer: asyncio.TimerHandle | None = None

    def add(self, rows: list[dict[str, Any]]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((rows, future))
        self.rows += len(rows)
        if not self.busy:
            self._schedule(loop)
        return future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand the waiting rows over once there are enough of them, else when the timer
        ends (whichever comes first)."""
        if self.rows >= self.target:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.busy = True
            # Not at once: the reads that are ready in this loop iteration run first and
            # join the batch (call_soon runs after the iteration's ready callbacks).
            loop.call_soon(self._hand_over)
        elif self._timer is None:
            self._timer = loop.call_later(GATHER_SECONDS, self._waited)

    def _waited(self) -> None:
        self._timer = None
        if not self.busy and self.waiting:
            self.busy = True
            self._hand_over()

    def _hand_over(self) -> None:
        batch, self.waiting = self.waiting, []
        count, self.rows = self.rows, 0
        if not batch:
            self.busy = False
            return
        self.target = max(1, min(GATHER_ROWS, count))
        journal = self.trail.journal
        if journal is not None:
            # SQLite: the batch is one write(2) to the journal, here on the loop's thread
            # (audit/journal.py); no writer thread, no hand-back.
            try:
                journal.append([r for rows, _ in batch for r in rows])
            except OSError as exc:
                self._finish(batch, exc)
            else:
                self._finish(batch, None)
            return
        try:
            self.trail._start_writer()  # the one step here that can fail (no thread to be had)
        except Exception as exc:
            # Those reads are not answered with data; the loop must not stay busy, or every
            # later read on it would wait forever.
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            self.busy = False
            return
        item = self.trail._enqueue([r for rows, _ in batch for r in rows])
        item.future.add_done_callback(lambda done: self._call_loop(batch, done))
        self.trail._wake.set()

    def _call_loop(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future]], done: Future) -> None:
        # On the writer thread: one wake-up of the loop for the whole batch.
        loop = self._loop()
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._committed, batch, done)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _committed(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future]], done: Future) -> None:
        self._finish(batch, done.exception())

    def _finish(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future]], error: BaseException | None) -> None:
        for _, future in batch:
            if future.done():  # the request was cancelled (client gone): nothing to wake
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(None)
        self.busy = False
        if self.waiting:  # what gathered during this commit goes next, together
            loop = self._loop()
            if loop is None or self.rows >= self.target:
                self.busy = True
                self._hand_over()
            else:
                self._schedule(loop)


_TRAILS: dict[int, tuple[Any, AuditTrail]] = {}
_TRAILS_LOCK = threading.Lock()


def trail_for(repo: Any) -> AuditTrail:
    """The process's trail for this repository (one chain per process and database)."""
    with _TRAILS_LOCK:
        found = _TRAILS.get(id(repo))
        if found is None or found[0] is not repo:
            found = (repo, AuditTrail(repo))
            _TRAILS[id(repo)] = found
        return found[1]
