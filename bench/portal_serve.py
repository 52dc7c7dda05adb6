"""The portals as users meet them, for bench/portal_bench.py and bench/clinician_bench.py:
`ehelse serve --workers N` as a subprocess on a copy of the seeded database, and HTTP
clients with their own cookies (httpx, the same client class Starlette's TestClient is, so
a bench drives either with the same code).

Why a served mode: the portal's target is server time with 8 users at once. In process
(TestClient), 8 users are 8 threads of one Python process, so every page waits for the
one GIL and `app;dur` grows with the number of users whatever the page costs. Served with
two workers on two cores, as `ehelse serve --workers 2` runs in production, the figure is
what a user would get from the product. The load generator (8 threads issuing requests)
runs in the bench process and takes some CPU from the server: the bench reports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.server import ServerProcess, bench_env, ehelse_command, free_port, upgrade_database


def serve(database: Path, workers: int) -> ServerProcess:
    """`ehelse serve` on a free port for this SQLite file (upgraded first); login rate
    limiting off (8 users log in from one address in a second), quiet logs."""
    url = f"sqlite:///{database}"
    upgrade_database(url)
    env = bench_env()
    env["EHELSE_RATE_LIMIT"] = "0"
    port = free_port()
    argv = [*ehelse_command(), "serve", "--database", url, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    return ServerProcess(argv, port, env=env)


def http_client(base_url: str) -> Any:
    """A cookie-keeping client without redirects, like TestClient(app, follow_redirects=False)."""
    import httpx

    return httpx.Client(base_url=base_url, follow_redirects=False, timeout=60.0)
