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

Writes by id and creates (web/fhir.py: _is_plain_write) go to the process's write lane
instead (web/writes.py): one thread, which writes several in one transaction. Searches,
history, Bundles and conditional writes (whose search may be slow) stay in the pool, so a
write waiting for the database never stalls them.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

THREADS = 40
T = TypeVar("T")

# The pool of this process: (the pid that made it, the executor). A forked server worker
# makes its own: the parent's threads do not exist in the child.
_executors: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _executor() -> ThreadPoolExecutor:
    found = _executors.get("fhir")
    if found is None or found[0] != os.getpid():
        found = _executors["fhir"] = (os.getpid(), ThreadPoolExecutor(THREADS, thread_name_prefix="fhir"))
    return found[1]


async def run_sync(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a pool thread, in a copy of the caller's context."""
    context = contextvars.copy_context()
    done = _executor().submit(context.run, function, *args)
    try:
        return await asyncio.wrap_future(done)
    except asyncio.CancelledError:
        # wrap_future has cancelled `done` if it had not started; a running call cannot be
        # stopped, so wait for its end (ignoring further cancellations) and then go on.
        if not done.done():
            await finished(done)
        raise


async def finished(done: Future) -> None:
    """Wait until `done` is done, whatever cancellations come meanwhile (a call that runs
    cannot be stopped: the request that asked for it waits for its end)."""
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
