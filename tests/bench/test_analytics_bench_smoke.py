"""bench/analytics_bench.py in its --quick form (30 patients, DuckDB and the runner, no
Spark), so the benchmark cannot rot. No timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_analytics_bench_quick(tmp_path):
    output = tmp_path / "analytics.json"
    done = subprocess.run([sys.executable, "bench/analytics_bench.py", "--quick", "--output", str(output)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["observations"] > 0
    assert report["duckdb_view_s"] > 0 and report["hand_written_duckdb_s"] > 0
    # the report rounds seconds and ratio separately: the ratio agrees with them to rounding
    assert report["ratio_duckdb_to_hand"] == pytest.approx(
        report["duckdb_view_s"] / report["hand_written_duckdb_s"], rel=0.05)
