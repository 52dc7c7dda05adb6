"""Endpoints for operators: `/healthz` (the process is alive), `/readyz` (it can serve: the
database answers and its schema is current) and `/metrics` (Prometheus).

A load balancer keeps a process in rotation while /readyz is 200; an orchestrator restarts
it when /healthz fails. Neither needs a token; neither reveals data.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from ehelse.errors import Issue, operation_outcome
from ehelse.fhir import jsoncodec
from ehelse.web import logs
from ehelse.web.responses import send_bytes

JSON = b"application/json"
NO_STORE = ((b"cache-control", b"no-store"),)


async def healthz(state: Any, scope: dict, send: Any) -> None:
    await send_bytes(send, 200, b'{"status":"ok"}', JSON, NO_STORE, head=scope["method"] == "HEAD")


async def readyz(state: Any, scope: dict, send: Any) -> None:
    def check() -> str | None:
        try:
            repo = state.repo
            repo.ping()
            if not repo.migrations_current():
                return "database schema is not current: run `ehelse db upgrade`"
        except Exception as exc:  # whatever the driver raises, the answer is "not ready"
            logs.log.warning("readiness check failed: %s", type(exc).__name__)
            return "database unreachable"
        return None

    # The check may block on a dead database's connect timeout: keep it off the event loop.
    problem = await anyio.to_thread.run_sync(check)
    if problem is None:
        await send_bytes(send, 200, b'{"status":"ready"}', JSON, NO_STORE, head=scope["method"] == "HEAD")
        return
    body = jsoncodec.dumps(operation_outcome([Issue("error", "transient", problem)]))
    await send_bytes(send, 503, body, headers=NO_STORE, head=scope["method"] == "HEAD")


async def metrics(state: Any, scope: dict, send: Any) -> None:
    await send_bytes(send, 200, state.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8",
                     NO_STORE, head=scope["method"] == "HEAD")
