"""bench/portal_bench.py end to end in its --quick form (30 patients, a few seconds), so the
benchmark cannot rot. No timing assertions: the figures belong in docs/benchmarks.md."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_portal_bench_quick_reports_every_page(tmp_path):
    from bench import portal_bench

    result = portal_bench.main(["--quick", "--users", "2", "--output", str(tmp_path / "portal.json")])
    assert set(result["pages"]) == {"overview", "record", "results", "messages"}
    for name, figures in result["pages"].items():
        assert figures["requests"] > 0, name
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"], name
    assert result["errors"] == []
    assert (tmp_path / "portal.json").exists()
