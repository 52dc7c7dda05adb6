"""The synchronous FHIR core off the event loop: one bounded thread pool per process.

Everything under /fhir but reads by id runs in a worker thread (web/fhir.py), so a slow search
or a write waiting for the database lock never stalls other requests. anyio.to_thread.run_sync
did this at a price: py-spy (`--gil`) on a server worker under the CRUD benchmark put ~15 % of
the event loop's CPU in it (the async library looked up through sniffio, the backend's RunVar,
a CapacityLimiter and a cancel scope for every call). This is asyncio's own hand-over to a
ThreadPoolExecutor, keeping what anyio gave us:

- the request's context variables go with the call (the request id in the logs, web/logs.py);
- the pool is bounded (40 threads, anyio's default): more calls wait in its queue;
- a cancelled request does not leave its call running unseen: a call that has not started is
  dropped, one that runs is waited for before the cancellation goes on (anyio's
  abandon_on_cancel=False), so no write outlives the request that asked for it.

On SQLite, writes by id and creates (web/fhir.py: _is_plain_write) go to one writer thread
per process instead (`run_write`). They wait for one another anyway: the audit trail's chain
lock and the database's write lock let one write transaction of a process run at a time. Spread over the
pool, 32 concurrent writes woke 32 threads that fought for the GIL (sqlite3 lets go of it at
every statement, so each statement of the one thread holding the locks handed the GIL to
another thread and waited to get it back) and then queued on the locks: the CRUD benchmark's
server spent ~1,800 us of CPU per operation, a quarter of it in the kernel switching threads
(perf: finish_task_switch, futex). One thread takes the writes one after the other, ~1,350
us per operation (docs/benchmarks.md, sixth session). Searches, history, Bundles and
conditional writes (whose search may be slow) stay in the pool, so a write waiting for the
database never stalls them, as before. On PostgreSQL writes stay in the pool too: there a
write spends most of its time in round trips without the GIL, which the next write's
validation uses; one thread lost a quarter of the CRUD benchmark's operations/s.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

THREADS = 40
T = TypeVar("T")

# One pool and one writer thread per process, by name: (the pid that made it, the executor).
# A forked server worker makes its own: the parent's threads do not exist in the child.
_executors: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _executor(name: str = "fhir", threads: int = THREADS) -> ThreadPoolExecutor:
    found = _executors.get(name)
    if found is None or found[0] != os.getpid():
        found = _executors[name] = (os.getpid(), ThreadPoolExecutor(threads, thread_name_prefix=name))
    return found[1]


async def run_sync(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a pool thread, in a copy of the caller's context."""
    return await _run_in(_executor(), function, *args)


async def run_write(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the process's writer thread (writes one after the other, module
    docstring), in a copy of the caller's context; cancellation as for run_sync."""
    return await _run_in(_executor("fhir-writer", 1), function, *args)


async def _run_in(executor: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    context = contextvars.copy_context()
    done = executor.submit(context.run, function, *args)
    try:
        return await asyncio.wrap_future(done)
    except asyncio.CancelledError:
        # wrap_future has cancelled `done` if it had not started; a running call cannot be
        # stopped, so wait for its end (ignoring further cancellations) and then go on.
        if not done.done():
            await _finished(done)
        raise


async def _finished(done: Future) -> None:
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def wake(_: Future) -> None:
        try:
            loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    done.add_done_callback(wake)
    while not ended.done():
        try:
            await asyncio.shield(ended)
        except asyncio.CancelledError:
            continue
