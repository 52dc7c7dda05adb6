"""The write lane: the writes by id waiting in a process, written several to one transaction.

A transaction costs a fixed part whatever it writes, and one write per transaction paid it
alone. On SQLite: BEGIN and COMMIT under the file's one write lock, shared by every server
worker; a WAL frame for each B-tree page the write touched (about 25: resource, history,
audit log, the index tables and their indexes, the full-text tables); and the page cache,
which SQLite drops when another process has written since the connection's last
transaction, so with two workers taking turns every write read its pages in again. In
process, with another writer between transactions, the CRUD scenario's writes cost 739 us
of CPU each one per transaction, 540 four per transaction and 482 eight. On PostgreSQL: a
round trip for BEGIN and one for COMMIT, the commit's WAL flush, and a pool thread per write
(docs/benchmarks.md, tenth session).

So one thread per process (the lane) takes the writes that wait, up to MAX_GROUP, and:

1. stages each (Router.stage_write): parse, validate, index rows and, where a transaction
   shuts out every other writer (SQLite), the access checks; all of it outside any
   transaction. A request refused here, or one that is not a plain create, update, patch
   or delete, is answered now;
2. applies them in one write transaction, each in a savepoint of its own
   (AuditTrail.savepoint): a write that fails (a 412, a 409, a refusal found only now) is
   undone alone, with its audit rows, and the others go on;
3. after the COMMIT, finishes each: its response, and the process's access facts dropped.

Nothing is answered before the commit, so no client sees a write that could still be lost.
If the transaction itself fails (the write lock not had within the busy timeout, a full disk
at COMMIT, a savepoint that cannot be rolled back), nothing of it is written and every write
in it gets the same answer as it would alone (503 for the database's errors).

One thread. Spread over the pool, 32 concurrent SQLite writes woke 32 threads that fought
for the GIL (sqlite3 lets go of it at every statement, so each statement of the one thread
holding the locks handed the GIL to another thread and waited to get it back): the CRUD
benchmark's server spent ~1,800 us of CPU per operation, a quarter of it in the kernel
switching threads; one thread, ~1,350 (docs/benchmarks.md, sixth session). And no other
write's Python runs in this process while the lane holds the write lock: every staging runs
before the transaction. On PostgreSQL one thread writing one write per transaction lost a
quarter of the pool's operations/s (its round trips left the GIL idle); one writing a group
per transaction made ~1,000 against the pool's ~750. Cancellation as for run_sync: a write
not yet staged is dropped, one staged is waited for.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.storage.sqlrepo import SavepointLost
from ehelse.storage.staged import Staged
from ehelse.web.threads import finished

MAX_GROUP = 16  # writes in one transaction at most: the write lock is held for all of them

log = logging.getLogger("ehelse")


class _Write:
    __slots__ = ("request", "context", "future")

    def __init__(self, request: FhirRequest):
        self.request = request
        self.context = contextvars.copy_context()  # the request id in the logs (web/logs.py)
        self.future: Future = Future()


class WriteLane:
    """`stage(request)`: a Staged write or the response now (FhirEndpoint, with the router's
    stage_write); `trail()`: the audit trail whose transaction the group shares;
    `failure(request, exc)`: the response to an exception (Router.failure)."""

    def __init__(self, stage: Callable[[FhirRequest], FhirResponse | Staged], trail: Callable[[], Any],
                 failure: Callable[[FhirRequest, BaseException], FhirResponse]):
        self._stage, self._trail, self._failure = stage, trail, failure
        self._queue: "queue.SimpleQueue[_Write]" = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self.groups = 0  # transactions written by the lane (to see grouping at work)
        self.applied = 0  # writes applied in them

    async def submit(self, request: FhirRequest) -> FhirResponse:
        write = _Write(request)
        self._start()
        self._queue.put(write)
        try:
            return await asyncio.wrap_future(write.future)
        except asyncio.CancelledError:
            # not yet staged: wrap_future cancelled it, and the lane skips it; else wait for
            # its end, so no write outlives the request that asked for it
            if not write.future.done():
                await finished(write.future)
            raise

    def _start(self) -> None:
        # One thread per process: a forked server worker starts its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # a parent's queue would hold the parent's writes
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._serve, name="fhir-writer", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            writes = [self._queue.get()]
            while len(writes) < MAX_GROUP:
                try:
                    writes.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._group(writes)
            except BaseException as exc:  # a bug: no request may be left waiting for good
                log.exception("write lane")
                for write in writes:
                    if not write.future.done():
                        write.future.set_exception(exc)

    def _group(self, writes: list[_Write]) -> None:
        staged: list[tuple[_Write, Staged]] = []
        for write in writes:
            if not write.future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                outcome = write.context.run(self._stage, write.request)
            except BaseException as exc:
                write.future.set_exception(exc)
                continue
            if isinstance(outcome, Staged):
                staged.append((write, outcome))
            else:
                write.future.set_result(outcome)
        if not staged:
            return
        trail = self._trail()
        results: list[tuple[bool, Any]] = []
        try:
            with trail.transaction():
                for write, step in staged:
                    try:
                        with trail.savepoint():
                            value = write.context.run(step.apply)
                        # only now: the savepoint's end may fail too (its buffered index
                        # rows, on PostgreSQL what the pipeline had not answered yet)
                    except SavepointLost:
                        raise
                    except Exception as exc:  # undone alone; the others go on
                        results.append((False, exc))
                        continue
                    results.append((True, value))
        except BaseException as exc:
            # Nothing of the transaction was written: each write gets its own answer to that.
            failure = exc.__cause__ if isinstance(exc, SavepointLost) and exc.__cause__ is not None else exc
            for write, _ in staged:
                write.future.set_result(write.context.run(self._failure, write.request, failure))
            return
        self.groups += 1
        self.applied += len(staged)
        for (write, step), (ok, value) in zip(staged, results):
            try:
                response = write.context.run(step.finish, value) if ok else write.context.run(
                    self._failure, write.request, value)
            except Exception as exc:
                response = write.context.run(self._failure, write.request, exc)
            write.future.set_result(response)
