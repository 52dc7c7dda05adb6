"""bench/access_bench.py runs end to end (tiny and short: figures belong in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_access_bench_measures_every_actor_and_workload():
    done = subprocess.run([sys.executable, "-m", "bench.access_bench", "--patients", "20", "--seconds", "0.5",
                           "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert {(r["actor"], r["workload"]) for r in results["rows"]} == {
        (actor, workload) for actor in ("citizen", "clinician") for workload in ("read", "search", "search-all")}
    for row in results["rows"]:
        assert row["requests_per_s"] > 0 and row["admin_requests_per_s"] > 0
        # the rates are printed rounded to 0.1 and the ratio to 0.001 (from the unrounded rates): on a
        # loaded machine a rate of a few per second makes that rounding several per cent, so the
        # check is the interval the rounded figures allow, not a fixed relative tolerance
        rate, admin = row["requests_per_s"], row["admin_requests_per_s"]
        assert (rate - 0.05) / (admin + 0.05) - 0.0005 <= row["ratio"] <= (rate + 0.05) / (admin - 0.05) + 0.0005
