"""bench/portal_bench.py end to end in its --quick form (30 patients, a few seconds), so the
benchmark cannot rot. No timing assertions: the figures belong in docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_portal_bench_quick_reports_every_page(tmp_path):
    output = tmp_path / "portal.json"
    done = subprocess.run([sys.executable, "-m", "bench.portal_bench", "--quick", "--users", "2", "--output", str(output)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(output.read_text())
    assert set(result["pages"]) == {"overview", "record", "results", "messages"}
    for name, figures in result["pages"].items():
        assert figures["requests"] > 0, name
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"], name
    assert result["errors"] == []
    assert "p95 ms" in done.stdout
