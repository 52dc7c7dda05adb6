"""AuditTrail: append audit records durably, as a tamper-evident hash chain per process.

A record is one row of `audit_log` (audit/log.py, record.py): callers hand in AuditEvents
(events.audit_event) and the trail stores their compact rows. Each row carries its chain
id (one per AuditTrail, so one per server process and database), its sequence number in
the chain, the previous row's hash and its own (record.digest, over every other column).
Changing a row breaks its hash; removing one leaves a gap; inserting one breaks a
sequence or a `previous` (verify.py reports each).

Durability before data (the issue: "no patient data leaves the server before its audit
record is durable"): `record()` returns only after the rows are committed, and
`submit()`'s future completes only then. Concurrent requests share commits (group commit):
whoever flushes writes every row queued so far in one transaction, and the others find
theirs done. `submit()` is for the event loop (web/fhir.py inline reads): a dedicated
writer thread flushes, so the loop awaits the commit without blocking on it. Inside a write
transaction (`transaction()`), rows join that transaction, so a write and its audit commit
together or not at all.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from ehelse.audit import log
from ehelse.audit.record import digest, event_id, row_of

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

    def record(self, events: list[dict[str, Any]]) -> list[str]:
        """Append the events; returns their AuditEvent ids once they are durable (or part
        of the caller's open transaction). Raises if they could not be written: the caller
        must not answer."""
        if not events:
            return []
        rows = [row_of(e) for e in events]
        if self._owner == threading.get_ident():
            self._append(rows)  # inside transaction(): commits with the caller's writes
            return [event_id(r) for r in rows]
        item = self._enqueue(rows)
        self._flush()
        return item.future.result()

    def submit(self, events: list[dict[str, Any]]) -> Future:
        """Queue the events for the writer thread; the future gives their ids once they are
        durable (or the error). For callers that must not block: await it (asyncio.wrap_future)."""
        if not events:
            done: Future = Future()
            done.set_result([])
            return done
        item = self._enqueue([row_of(e) for e in events])
        self._start_writer()
        self._wake.set()
        return item.future

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
            if not batch:
                return  # another flush took ours: its future is set already
            seq, previous = self.seq, self.previous
            try:
                with self.repo.transaction():
                    self._append([r for p in batch for r in p.rows])
                self.commits += 1
            except BaseException as exc:
                self.seq, self.previous = seq, previous  # not committed: not in the chain
                for p in batch:
                    p.future.set_exception(exc)
                return
            for p in batch:
                p.future.set_result([event_id(r) for r in p.rows])

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
            self._flush()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that audit records join. The chain lock is taken before the
        database's write lock, as _flush() does, so the two never wait on each other."""
        if self._owner == threading.get_ident():
            yield
            return
        with self._lock:
            self._owner = threading.get_ident()
            seq, previous = self.seq, self.previous
            try:
                with self.repo.transaction():
                    yield
                self.commits += 1
            except BaseException:
                self.seq, self.previous = seq, previous  # rolled back: the chain never had them
                raise
            finally:
                self._owner = None

    def _append(self, rows: list[dict[str, Any]]) -> None:
        seq, previous = self.seq, self.previous
        try:
            for row in rows:
                self.seq += 1
                row.update(chain=self.chain_id, seq=self.seq, previous=self.previous)
                row["hash"] = self.previous = digest(row)
            log.insert(self.repo, rows)
        except BaseException:
            self.seq, self.previous = seq, previous
            raise


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
