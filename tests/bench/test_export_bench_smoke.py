"""Smoke test of bench/export_bench.py: `--quick` runs the system and Patient level exports
and reports figures that add up (no timing assertions: figures go in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_export_bench_quick(tmp_path):
    out = tmp_path / "export.json"
    done = subprocess.run([sys.executable, "-m", "bench.export_bench", "--quick", "--tracemalloc", "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    system, patient = json.loads(out.read_text())["results"]
    assert system["resources"] > patient["resources"] > 0  # Patient level leaves out Practitioners etc.
    assert system["resources_per_s"] > 0 and system["resources_per_cpu_s"] > 0
    # One page of 500 resources in memory, not the export: tracemalloc's peak stays small.
    assert 0 < system["tracemalloc_peak_mb"] < 50 and system["peak_rss_mb"] >= system["rss_before_mb"] > 0
