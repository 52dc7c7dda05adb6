"""Benchmarks of ehelse: workloads that print figures and ratios (never timed unit tests).

    run.py          `python -m bench.run [--only import,read,crud] [--quick]`: runs the
                    benchmarks, writes bench/results/report.json and prints a table
    import_bench    Synthea transaction bundles into fresh databases, validation on
    read_bench      GET /fhir/Patient/<id> vs a bare JSON endpoint, 32 connections (wrk)
    crud_bench      the HealthSamurai k6 CRUD scenario, ported to asyncio virtual users
    crud_seeds      the nine linked resources each CRUD iteration creates
    server          `ehelse serve` as a subprocess on a free port; tokens
    databases       a fresh SQLite file or PostgreSQL schema per run
    loadgen         asyncio HTTP/1.1 keep-alive client and latency percentiles
    wrk             runs wrk (C load generator) with a Lua script and parses its report
    cpu             CPU used by server, PostgreSQL, bench process and everyone else
    report          the readable tables printed after a run

Other parts' benchmarks live beside these (validation.py, terminology.py, web_stack.py) and
run on their own; run.py runs the three of issue 2.

Figures are measured as ratios within one run where they can be: the machine is shared.
docs/benchmarks.md explains each benchmark and records the latest figures.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def shared_dir() -> Path | None:
    """The team's read-only reference material at ../shared, or None when it is absent
    (a fresh clone has only the project; benchmarks that need it say so and skip)."""
    candidate = REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def synthea_dir() -> Path | None:
    shared = shared_dir()
    if shared is None:
        return None
    candidate = shared / "data" / "synthea-r4-dev"
    return candidate if candidate.is_dir() else None
