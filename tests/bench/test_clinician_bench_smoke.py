"""Smoke test of bench/clinician_bench.py: `--quick` logs 8 users in, opens summaries and
types in the search box end to end, and writes its JSON (no timing assertions: the figures
belong in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_clinician_bench_quick(tmp_path):
    out = tmp_path / "clinician.json"
    done = subprocess.run([sys.executable, "-m", "bench.clinician_bench", "--quick", "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["patients"] == 30 and result["users"] == 8 and result["gp_list"] > 0
    for kind in ("summary", "typeahead"):
        figures = result["workloads"][kind]
        assert figures["n"] > 0 and 0 < figures["p50"] <= figures["p95"], kind
