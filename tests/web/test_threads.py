"""web/threads.py: the FHIR core's calls off the event loop (context, results, cancellation)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ehelse.web import threads

REQUEST = contextvars.ContextVar("request", default="none")


def test_the_call_runs_in_a_pool_thread_with_the_callers_context():
    async def main():
        REQUEST.set("rid-1")
        return await threads.run_sync(lambda: (REQUEST.get(), threading.current_thread().name))

    value, name = asyncio.run(main())
    assert value == "rid-1"
    assert name.startswith("fhir")


def test_results_and_errors_come_back():
    def fail():
        raise ValueError("no")

    async def main():
        assert await threads.run_sync(sum, [1, 2, 3]) == 6
        with pytest.raises(ValueError, match="no"):
            await threads.run_sync(fail)

    asyncio.run(main())


def test_a_cancelled_request_waits_for_its_running_call():
    finished = threading.Event()

    def write():
        time.sleep(0.3)
        finished.set()

    async def main():
        task = asyncio.create_task(threads.run_sync(write))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the cancellation went on only once the write had ended
        assert finished.is_set()

    asyncio.run(main())


def test_a_call_that_has_not_started_is_dropped_when_its_request_is_cancelled(monkeypatch):
    monkeypatch.setattr(threads, "_pool", ThreadPoolExecutor(1, thread_name_prefix="fhir"))
    monkeypatch.setattr(threads, "_pool_pid", __import__("os").getpid())
    release, ran = threading.Event(), []

    async def main():
        busy = asyncio.create_task(threads.run_sync(release.wait, 5))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(threads.run_sync(ran.append, "queued"))
        await asyncio.sleep(0.05)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await busy
        await threads.run_sync(lambda: None)  # the pool's one thread is past where `queued` stood

    asyncio.run(main())
    assert ran == []
    threads._pool.shutdown()
