"""`Server-Timing` on every page response (https://www.w3.org/TR/server-timing/):
`app;dur=12.3` is the time from the request reaching the portal to its first byte, and parts
of it that a page measured (`fhir;dur=8.1`). bench/portal_bench.py reads it; a browser's
developer tools show it."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

SCOPE_KEY = "ehelse.timings"


class ServerTiming:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[SCOPE_KEY] = {}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                parts = [f"app;dur={total:.1f}"] + [f"{name};dur={ms:.1f}" for name, ms in scope[SCOPE_KEY].items()]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", ", ".join(parts).encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_wrapper)


@contextmanager
def measure(scope: dict, name: str) -> Iterator[None]:
    """Add the time of the block to the response's Server-Timing under `name` (summed)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings = scope.setdefault(SCOPE_KEY, {})
        timings[name] = timings.get(name, 0.0) + (time.perf_counter() - started) * 1000
