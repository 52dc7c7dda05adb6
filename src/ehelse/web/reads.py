"""Reads by id on PostgreSQL: the event loop's reads fetched together, off the loop.

On SQLite a read by id is a few microseconds in the process, so web/fhir.py runs it on the
event loop. On PostgreSQL the same read is a network round trip: run on the loop it stops
every other request for that long, and run in a thread each read pays a thread hop, a pool
checkout and psycopg's per-statement work. So the reads of one loop iteration go together:
the first read schedules a fetch for the next iteration, every read ready by then joins it,
and one worker thread answers all of them with one statement (`type = ANY(..) AND id =
ANY(..)` on the primary key, joined with the access facts' marker, access/freshness.py),
one round trip on one pooled connection. While a fetch runs, new reads gather for the next one (as the audit
trail's group commit does, audit/trail.py).

The router then runs on the loop as for SQLite, against `Prefetched`: the repository with
that one row answered from the fetch. Everything else it might read (a deleted resource's
previous version, a Binary's security context) goes to the database as usual.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


class ReadBatcher:
    """One per repository and event loop (web/fhir.py makes it on the loop's thread)."""

    def __init__(self, repo: Any, loop: asyncio.AbstractEventLoop):
        self.repo = repo
        self._loop = weakref.ref(loop)  # the endpoint's cache holds loops weakly: no cycle back
        self.waiting: list[tuple[str, str, asyncio.Future]] = []
        self.busy = False
        # One thread: fetches of this loop follow one another, each holding every read
        # that arrived meanwhile.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="reads")

    def read(self, type: str, id: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((type, id, future))
        if not self.busy:
            self.busy = True
            loop.call_soon(self._start)  # after this iteration's other ready reads
        return future

    def _start(self) -> None:
        batch, self.waiting = self.waiting, []
        if not batch:
            self.busy = False
            return
        keys = [(type, id) for type, id, _ in batch]
        done = self._executor.submit(fetch, self.repo, keys)
        done.add_done_callback(lambda f: self._call_loop(batch, f))

    def _call_loop(self, batch: list, done: Any) -> None:
        loop = self._loop()
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._finish, batch, done)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _finish(self, batch: list, done: Any) -> None:
        error = done.exception()
        if error is None:
            found, facts_version = done.result()
        for type, id, future in batch:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(Fetched(found.get((type, id)), facts_version))
        self.busy = False
        if self.waiting:
            self.busy = True
            self._start()

    def close(self) -> None:
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


def batcher_for(cache: "weakref.WeakKeyDictionary", repo: Any) -> ReadBatcher:
    """The running loop's batcher for `repo`, kept in `cache` (the endpoint's, weak by loop:
    only that loop's thread touches its entry)."""
    loop = asyncio.get_running_loop()
    found = cache.get(loop)
    if found is None or found.repo is not repo:
        if found is not None:
            found.close()  # the repository was reopened
        found = cache[loop] = ReadBatcher(repo, loop)
    return found
