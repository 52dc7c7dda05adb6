"""The read benchmark's baseline: a bare JSON endpoint on the same stack as `ehelse serve`.

Same ASGI server, same worker count, same framework (Starlette), no database, no token
check: what is left of GET /fhir/Patient/<id> when all FHIR work is taken away. The ratio
FHIR read / bare tells how much of the stack's capacity the FHIR core keeps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# A small resource-shaped body, served as ready bytes as the FHIR read path does.
BODY = (b'{"resourceType":"Patient","id":"bare","meta":{"versionId":"1",'
        b'"lastUpdated":"2026-01-01T00:00:00.000000Z"},"gender":"unknown"}')


async def bare(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/bare", bare)])

# The ASGI server `ehelse serve` runs on (src/ehelse/cli/serve.py); keep them the same.
SERVER = os.environ.get("EHELSE_BENCH_SERVER", "granian")


def server_argv(port: int, workers: int) -> list[str]:
    """The command that serves `app` on 127.0.0.1:port with that many workers."""
    bin_dir = Path(sys.executable).parent
    if SERVER == "uvicorn":
        return [str(bin_dir / "uvicorn"), "bench.bare_app:app", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--no-access-log",
                "--log-level", "warning"]
    return [str(bin_dir / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--log-level", "warning", "bench.bare_app:app"]
