"""The benchmarks run end to end in their tiny `--quick` form against SQLite, so the bench
code cannot rot. No timing assertions: figures belong in bench/results, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SYNTHEA = REPO_ROOT.parent / "shared" / "data" / "synthea-r4-dev"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One `python -m bench.run --quick` of all three benchmarks on SQLite."""
    output = tmp_path_factory.mktemp("bench") / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--backends", "sqlite", "--workers", "1",
         "--output", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert output.exists(), f"no report written:\n{done.stdout}\n{done.stderr}"
    report = json.loads(output.read_text())
    report["_stdout"] = done.stdout
    report["_returncode"] = done.returncode
    return report


def _benchmark(report: dict, name: str) -> dict:
    result = report["benchmarks"][name]
    assert "error" not in result, f"{name} failed: {result.get('error')}\n{result.get('traceback')}"
    return result


def test_report_has_machine_info_and_a_table(report):
    machine = report["machine"]
    assert machine["nproc"] >= 1
    assert machine["python"].startswith("3.")
    assert len(machine["git_commit"]) == 40
    speed = machine["python_speed_ms"]  # bench/machine.py, before and after the benchmarks
    assert set(speed) == {"before", "after"} and all(0 < value < 60_000 for value in speed.values())
    assert report["quick"] is True
    assert set(report["benchmarks"]) == {"import", "read", "crud"}
    assert "CRUD" in report["_stdout"] and "Read by id" in report["_stdout"]


def test_import_creates_resources(report):
    if not SHARED_SYNTHEA.is_dir():
        assert report["benchmarks"]["import"]["skipped"]
        pytest.skip("../shared/data/synthea-r4-dev is absent")
    result = _benchmark(report, "import")
    sqlite = result["backends"]["sqlite"]
    assert len(sqlite["runs"]) == 1
    run = sqlite["runs"][0]
    assert run["resources"] > 0
    # every bundle entry is a POST: all of them must be created
    assert run["resources"] == result["entries_sent"]
    assert sqlite["median_resources_per_s"] > 0
    assert set(sqlite["vs_published_per_cpu"]) == {"Aidbox", "HAPI", "Medplum"}


def test_read_measures_fhir_and_bare(report):
    result = _benchmark(report, "read")
    run = result["runs"]["sqlite/workers=1"]
    for name in ("bare", "fhir_read"):
        assert run[name]["requests"] > 0, name
        assert run[name]["errors"] == 0, f"{name}: {run[name]}"
    assert run["fhir_read"]["patients"] == 20
    assert run["ratio_to_bare"] > 0
    # server CPU per request, and its ratio (the steadier figure on a shared machine)
    assert run["bare"]["server_us_per_request"] > 0 and run["fhir_read"]["server_us_per_request"] > 0
    assert run["ratio_to_bare_server_cpu"] == round(
        run["bare"]["server_us_per_request"] / run["fhir_read"]["server_us_per_request"], 3)
    audit = run["fhir_read"]["audit"]  # from /metrics: one record per read, sharing commits
    assert audit["workers_seen"] == 1 and audit["records"] >= run["fhir_read"]["requests"]
    assert audit["commits"] >= 1


def test_crud_runs_the_whole_scenario(report):
    result = _benchmark(report, "crud")
    run = result["backends"]["sqlite/workers=1"]
    assert run["iterations"] > 0
    assert run["errors"] == 0, run["first_failures"]
    by_operation = run["by_operation"]
    assert set(by_operation) == {"create", "read", "update", "delete", "all"}
    # each completed iteration is 9 creates, reads, updates and deletes
    for kind in ("create", "read", "update", "delete"):
        assert by_operation[kind]["count"] >= 9 * run["iterations"], kind
    assert by_operation["all"]["p99_ms"] >= by_operation["all"]["p50_ms"] > 0
