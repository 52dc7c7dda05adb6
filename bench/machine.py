"""How fast this machine runs Python now: one figure to compare reports across machines.

The benchmarks run on shared 2-core machines whose speed differs from one session to the
next by a factor of two or more (the bare endpoint did 30-35k req/s on one, 14k on
another), and within a run when neighbours get busy. Absolute figures from two reports are
comparable only at a like speed; ratios measured within one run (read/bare) are comparable
anywhere. So each report carries this figure, taken before and after the benchmarks.

The workload is the kind of Python the server spends its time in (a loop with integer and
dict work, JSON in and out with orjson, SHA-256 of short strings), one thread, best of
`rounds` by wall time (the best pass is the one least disturbed).
"""

from __future__ import annotations

import hashlib
import time

import orjson

from bench.crud_seeds import SEEDS


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
