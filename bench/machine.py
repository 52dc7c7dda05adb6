"""How fast this machine runs Python now: one figure to compare reports across machines.

The benchmarks run on shared 2-core machines whose speed differs from one session to the
next by a factor of two or more (the bare endpoint did 30-35k req/s on one, 14k on
another), and within a run when neighbours get busy. Absolute figures from two reports are
comparable only at a like speed; ratios measured within one run (read/bare) are comparable
anywhere. So each report carries this figure, taken before and after the benchmarks.

The workload is the kind of Python the server spends its time in (a loop with integer and
dict work, JSON in and out with orjson, SHA-256 of short strings), one thread, best of
`rounds` by wall time (the best pass is the one least disturbed).

`bare_granian`: the issue's own yardstick. Issue 2 set its absolute targets on a machine
where "a bare JSON endpoint served ... 49.4k [req/s] on granian"; this serves such an
endpoint (granian, ASGI, one worker, no middleware) to wrk with 32 connections, so a report
says how this machine compares with that one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

from bench import wrk
from bench.crud_seeds import SEEDS

ISSUE_BARE_GRANIAN = 49_400  # req/s of the issue's bare endpoint on granian, on its machine
_BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
"""


def _workload() -> int:
    total = 0
    table: dict[int, int] = {}
    for i in range(200_000):
        total += i * 3 % 7
        table[i & 1023] = total
    patient = SEEDS["Patient"]
    for _ in range(2_000):
        total += len(orjson.loads(orjson.dumps(patient)))
    for i in range(20_000):
        total += hashlib.sha256(b"%d" % i).digest()[0]
    return total


def python_speed_ms(rounds: int = 5) -> float:
    """Milliseconds for one pass of the workload, best of `rounds` (lower is faster)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        _workload()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def bare_granian(seconds: float = 5.0) -> dict | None:
    """req/s of a bare JSON endpoint on granian (one worker, 32 wrk connections), and its
    ratio to the issue's 49.4k; None without wrk."""
    if wrk.wrk_path() is None:
        return None
    from bench.server import free_port

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ehelse-bare-") as directory:
        Path(directory, "bareapp.py").write_text(_BARE_APP)
        server = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "bareapp:app"], cwd=directory, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        return None
                    time.sleep(0.1)
            figures = wrk.run_wrk(f"http://127.0.0.1:{port}", ["/"], connections=32, seconds=seconds)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    rate = figures["requests_per_s"]
    return {"requests_per_s": rate, "ratio_to_issue_machine": round(rate / ISSUE_BARE_GRANIAN, 2)}
