"""Reads by id: the event loop's reads of one iteration fetched together, and answered together.

A plain read by id (web/fhir.py `_read_by_id`) is the server's hottest path. Each read did
its own statement, and on SQLite each statement takes and lets go of the WAL's read lock
(two fcntl(2) calls) and of the GIL (twice: sqlite3 steps without it), 16-18 us on the loop
against 5-6 per read when 16 share a statement (docs/benchmarks.md, eleventh session). On
PostgreSQL a read is a network round trip: run on the loop it would stop every other request
for that long, and run in a thread each read would pay a thread hop, a pool checkout and
psycopg's per-statement work. So the reads of one loop iteration go together: the first
read schedules a fetch for the next iteration, every read that arrives by then joins it,
and one statement answers all of them (the rows by primary key and the access facts'
marker, access/freshness.py, one snapshot). On SQLite the fetch runs on the loop itself
(`SqliteRepository.read_many`); on PostgreSQL one worker thread runs it on one pooled
connection (`type = ANY(..) AND id = ANY(..)`), and while it runs new reads gather for the
next one (as the audit trail's group commit does, audit/trail.py).

Then the batch is answered in one pass on the loop (`answer`, the endpoint's: access rules
and audit rows for each read), its audit rows made durable together (AuditTrail.when_durable:
one journal write on SQLite), and only then is each read's future set: one wake-up per read,
as before, where a read used to wait twice (for its row, then for its record).

The general path's reads on PostgreSQL (`fetch`) use the same batches: they get the row
and the marker (`Fetched`) and run the router against `Prefetched`, the repository with
that one row answered from the fetch.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ehelse.storage.protocol import ResourceVersion

# The rows and the facts marker in one statement, so one round trip: the marker's one row,
# joined with the rows asked for (none of them found: one row of NULLs beside the marker).
_FETCH = ("SELECT f.version, r.type, r.id, r.version_id, r.last_updated, r.method, r.content"
          " FROM facts_version f LEFT JOIN resource r ON r.type = ANY(?) AND r.id = ANY(?)"
          " WHERE f.id = 1")
_ROWS = ("SELECT type, id, version_id, last_updated, method, content FROM resource"
         " WHERE type = ANY(?) AND id = ANY(?)")


class Fetched:
    """What one read gets: its row (None: no such resource) and the facts marker."""

    __slots__ = ("version", "facts_version")

    def __init__(self, version: ResourceVersion | None, facts_version: int | None):
        self.version = version
        self.facts_version = facts_version


class Wanted:
    """One read waiting in a batch: `actor` None for a fetch alone (the general path), whose
    future gets Fetched; else the fast path's read, whose future gets what `answer` sets.
    `context`: the request's context variables (its request id, which its audit record
    carries), for the answer made outside the request's task."""

    __slots__ = ("type", "id", "actor", "future", "context")

    def __init__(self, type: str, id: str, actor: Any, future: asyncio.Future, context: Any = None):
        self.type = type
        self.id = id
        self.actor = actor
        self.future = future
        self.context = context


# The endpoint's answer to a fetched batch: (the repository fetched from, the reads with an
# actor, the rows found by (type, id), the facts marker). It sets every read's future.
Answer = Callable[[Any, list[Wanted], dict[tuple[str, str], ResourceVersion], int], None]


class ReadBatcher:
    """One per repository and event loop (web/fhir.py makes it on the loop's thread)."""

    def __init__(self, repo: Any, loop: asyncio.AbstractEventLoop, answer: Answer | None = None):
        self.repo = repo
        self.answer = answer
        self._loop = weakref.ref(loop)  # the endpoint's cache holds loops weakly: no cycle back
        self.waiting: list[Wanted] = []
        self.busy = False
        self.reads = self.batches = 0  # for the benchmark's report and the tests
        # SQLite: the fetch is a few microseconds, on the loop. PostgreSQL: one thread, so
        # fetches of this loop follow one another, each holding every read that arrived meanwhile.
        self._on_loop = getattr(repo, "backend", "") == "sqlite"
        self._executor = None if self._on_loop else ThreadPoolExecutor(1, thread_name_prefix="reads")

    def fetch(self, type: str, id: str) -> asyncio.Future:
        """The row and the facts marker (Fetched), for a caller that goes on itself."""
        return self._wait(type, id, None)

    def read(self, actor: Any, type: str, id: str) -> asyncio.Future:
        """The read answered (`answer` says with what)."""
        return self._wait(type, id, actor, contextvars.copy_context())

    def _wait(self, type: str, id: str, actor: Any, context: Any = None) -> asyncio.Future:
        loop = self._loop()  # the running loop: Batchers.for_repo found this batcher by it
        future = loop.create_future()
        self.waiting.append(Wanted(type, id, actor, future, context))
        if not self.busy:
            self.busy = True
            loop.call_soon(self._start)  # after this iteration's other ready reads
        return future

    def _start(self) -> None:
        batch, self.waiting = self.waiting, []
        if not batch:
            self.busy = False
            return
        self.reads += len(batch)
        self.batches += 1
        keys = [(wanted.type, wanted.id) for wanted in batch]
        if self._on_loop:
            try:
                found, marker = self.repo.read_many(keys)
            except Exception as exc:
                self._finish(batch, exc, {}, 0)
            else:
                self._finish(batch, None, found, marker)
            return
        try:
            done = self._executor.submit(fetch, self.repo, keys)
        except RuntimeError as exc:  # closed (its repository was reopened): the general path answers
            self._finish(batch, exc, {}, 0)
            return
        done.add_done_callback(lambda f: self._call_loop(batch, f))

    def _call_loop(self, batch: list[Wanted], done: Any) -> None:
        loop = self._loop()
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._fetched, batch, done)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _fetched(self, batch: list[Wanted], done: Any) -> None:
        error = done.exception()
        found, marker = ({}, 0) if error is not None else done.result()
        self._finish(batch, error, found, marker)

    def _finish(self, batch: list[Wanted], error: BaseException | None,
                found: dict[tuple[str, str], ResourceVersion], marker: int) -> None:
        reads = []
        for wanted in batch:
            if wanted.future.done():  # its request was cancelled (the client went away)
                continue
            if wanted.actor is not None:
                if error is not None:
                    wanted.future.set_result(None)  # the general path answers (and logs) the error
                else:
                    reads.append(wanted)
            elif error is not None:
                wanted.future.set_exception(error)
            else:
                wanted.future.set_result(Fetched(found.get((wanted.type, wanted.id)), marker))
        # The next fetch first (PostgreSQL: its round trip overlaps this batch's checks),
        # then this batch's answer.
        self.busy = False
        if self.waiting:
            self.busy = True
            loop = self._loop()
            if self._on_loop and loop is not None:  # arrived while this batch was fetched
                loop.call_soon(self._start)
            elif not self._on_loop:
                self._start()
        if reads:
            try:
                self.answer(self.repo, reads, found, marker)
            except Exception as exc:  # a fault outside any one read: none of them may hang
                for wanted in reads:
                    if not wanted.future.done():
                        wanted.future.set_exception(exc)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def fetch(repo: Any, keys: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], ResourceVersion], int | None]:
    """The current rows of these (type, id) pairs and the facts marker, on one connection."""
    types = sorted({type for type, _ in keys})
    ids = sorted({id for _, id in keys})
    wanted = set(keys)
    with repo._reading() as conn:
        rows = repo._exec(conn, _FETCH, (types, ids)).fetchall()
        marker = rows[0][0] if rows else 0
        if not rows:  # no marker row (a database without one): the rows alone, marker 0
            rows = [(0, *row) for row in repo._exec(conn, _ROWS, (types, ids)).fetchall()]
    found = {}
    for row in rows:
        # row[1] None: the marker's row when nothing matched; ANY x ANY may also match pairs
        # nobody asked for
        if row[1] is not None and (row[1], row[2]) in wanted:
            found[(row[1], row[2])] = ResourceVersion(*row[1:])
    return found, marker


class Prefetched:
    """The repository, with one (type, id) read already answered."""

    def __init__(self, inner: Any, type: str, id: str, version: ResourceVersion | None):
        self._inner = inner
        self._key = (type, id)
        self._version = version

    def read(self, type: str, id: str) -> ResourceVersion | None:
        if (type, id) == self._key:
            return self._version
        return self._inner.read(type, id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Batchers:
    """The endpoint's ReadBatcher per event loop, weak by loop (a closed loop takes its
    batcher with it; only the loop's own thread touches its entry)."""

    def __init__(self, answer: Answer | None = None):
        self.answer = answer
        self._by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadBatcher]" = weakref.WeakKeyDictionary()
        # The last one handed out: a server's loop asks again and again, and a weak dict's
        # look-up makes a weak reference each time (a read's 6-8 % in the process).
        self._last: ReadBatcher | None = None

    def for_repo(self, repo: Any) -> ReadBatcher:
        """The running loop's batcher for `repo` (a new one when the repository was reopened)."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last.repo is repo and last._loop() is loop:
            return last
        found = self._by_loop.get(loop)
        if found is None or found.repo is not repo:
            if found is not None:
                found.close()
            found = self._by_loop[loop] = ReadBatcher(repo, loop, self.answer)
        self._last = found
        return found
