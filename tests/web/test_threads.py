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
    pool = ThreadPoolExecutor(1, thread_name_prefix="fhir")
    monkeypatch.setitem(threads._executors, "fhir", (__import__("os").getpid(), pool))
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
    pool.shutdown()


@pytest.mark.parametrize("method,path,headers,where", [
    ("POST", "/fhir/Patient", {}, "writer"),  # create
    ("PUT", "/fhir/Patient/p1", {}, "writer"),  # update
    ("DELETE", "/fhir/Patient/p1", {}, "writer"),
    ("PATCH", "/fhir/Patient/p1", {"content-type": "application/json-patch+json"}, "writer"),
    ("POST", "/fhir/Patient", {"if-none-exist": "identifier=x|1"}, "pool"),  # conditional create: a search
    ("PUT", "/fhir/Patient?identifier=x|1", {}, "pool"),  # conditional update
    ("DELETE", "/fhir/Patient?identifier=x|1", {}, "pool"),  # conditional delete
    ("POST", "/fhir", {}, "pool"),  # batch or transaction Bundle
    ("POST", "/fhir/Patient/$validate", {}, "pool"),
    ("GET", "/fhir/Patient/$everything", {}, "pool"),  # an operation: the loop does not try it
    # Searches: the loop tries them itself, under a read budget (tests/web/test_inline_search.py).
    ("POST", "/fhir/Patient/_search", {"content-type": "application/x-www-form-urlencoded"}, "loop"),
    ("GET", "/fhir/Patient?name=x", {}, "loop"),
])
def test_plain_writes_go_to_the_write_lane_searches_to_the_loop_the_rest_to_the_pool(
        settings, tmp_path, router, method, path, headers, where):
    import httpx

    from ehelse.storage.sqlite import SqliteRepository
    from ehelse.web.app import create_app

    repo = SqliteRepository(f"sqlite:///{tmp_path / 'w.sqlite'}")
    app = create_app(settings, repo, router)
    admin_token = app.state.tokens.issue("admin")
    seen = _threads_of(router)
    body = b"[]" if "patch" in headers.get("content-type", "") else b'{"resourceType":"Patient"}'
    if "form" in headers.get("content-type", ""):
        body = b"name=x"

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            sent = {"content-type": "application/fhir+json", **headers, "authorization": f"Bearer {admin_token}"}
            return await client.request(method, path, headers=sent,
                                        content=body if method in ("POST", "PUT", "PATCH") else None)

    try:
        asyncio.run(main())
    finally:
        repo.close()
    assert len(seen) == 1
    if where == "loop":
        assert seen[0] == threading.current_thread().name  # asyncio.run's loop runs in this thread
    else:
        assert seen[0].startswith("fhir-writer") is (where == "writer")
        assert seen[0].startswith("fhir")


def _threads_of(router) -> list[str]:
    """The names of the threads the router handles requests in, from now on."""
    seen: list[str] = []
    handle = router.handle

    def spy(request, repo):
        seen.append(threading.current_thread().name)
        return handle(request, repo)

    router.handle = spy
    return seen


@pytest.mark.anyio
async def test_writes_on_other_backends_stay_in_the_pool(client, router):
    """The write lane is for the SQL backends' transactions (web/writes.py); elsewhere (here
    the in-memory repository, which has none) a write runs in the pool."""
    seen = _threads_of(router)

    r = await client.post("/fhir/Patient", content=b'{"resourceType":"Patient"}',
                          headers={"content-type": "application/fhir+json"})
    assert r.status_code == 201
    assert seen and seen[0].startswith("fhir_")
