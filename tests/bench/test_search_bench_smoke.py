"""Smoke test of bench/search_bench.py: `--quick` runs every query class end to end on SQLite
and writes its JSON (no timing assertions: the figures belong in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_search_bench_quick(tmp_path):
    out = tmp_path / "search.json"
    done = subprocess.run([sys.executable, "-m", "bench.search_bench", "--quick", "--backends", "sqlite",
                           "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads(out.read_text())
    (result,) = saved["results"]
    assert result["backend"] == "sqlite" and result["patients"] == 30
    classes = result["classes"]
    assert {"conditions", "lab-trend", "identifier", "chained", "include", "revinclude", "has", "everything",
            "total-accurate"} <= set(classes)
    for name, figures in classes.items():
        assert figures["one_client"]["n"] == 10 and figures["one_client"]["p50"] > 0, name
        assert figures["sixteen_clients"]["n"] == 20
        assert figures["sixteen_clients_processes"]["n"] == 20  # split over 2 worker processes
        assert figures["sixteen_clients_processes"]["cpu_ms_per_request"] > 0
        over_http = figures["sixteen_clients_http"]  # 16 connections to `ehelse serve`, admin token
        assert over_http["n"] > 0 and over_http["p50"] > 0 and over_http["workers"] >= 1, name
        assert figures["plan"], name


@pytest.mark.postgres
def test_server_cpu_counts_the_backends_of_the_named_connections(pg_url):
    """bench/search_bench.py's ServerCpu: the CPU of PostgreSQL's backends for the bench's
    own (named) connections, and not of another connection."""
    import psycopg

    sys.path.insert(0, str(REPO_ROOT))
    from bench.search_bench import ServerCpu

    server = ServerCpu(pg_url, "ehelse-test-server-cpu")
    with psycopg.connect(ServerCpu.with_name(pg_url, server.name)) as named, psycopg.connect(pg_url) as other:
        server.begin()
        other.execute("SELECT count(*) FROM generate_series(1, 2000000)")
        assert server.ms_per(1) == 0
        named.execute("SELECT count(*) FROM generate_series(1, 2000000)")
        assert server.ms_per(1) > 0


def test_scale_is_measured_in_turns_on_both_databases(tmp_path):
    """scale_interleaved: every selective class and $everything, each round timing both
    databases (the order flipping), the ratio the median of the rounds' (no timing
    assertion: the figures belong in docs/benchmarks.md)."""
    sys.path.insert(0, str(REPO_ROOT))
    from bench.search_bench import SELECTIVE, scale_interleaved, sqlite_cache

    urls = [f"sqlite:///{sqlite_cache(n, 1, True, tmp_path).resolve()}" for n in (20, 30)]
    out = scale_interleaved("sqlite", urls, (20, 30), iterations=4, seed=1, rounds=3)
    assert set(out) == set(SELECTIVE) | {"everything"}
    for name, figures in out.items():
        assert len(figures["rounds"]) == 3 and all(small > 0 and large > 0 for small, large in figures["rounds"])
        ratios = sorted(large / small for small, large in figures["rounds"])
        assert abs(figures["ratio"] - ratios[1]) < 0.02, name  # the median of three (rounds kept to 4 decimals of a ms)
        assert figures["p50_ms"][0] > 0 and figures["p50_ms"][1] > 0
