"""Bulk Data export throughput: resources/s and peak memory of the $export engine
(src/ehelse/bulk/engine.py) over a seeded population, as a system-level export by the admin
(every type, the access layer and its audit included) and as a Patient-level export (each
resource's compartment checked).

    .venv/bin/python bench/export_bench.py                # 10,000 patients (cached under bench/.cache)
    .venv/bin/python bench/export_bench.py --quick        # 30 patients, no cache: the smoke test

Peak memory is tracemalloc's peak over the run (Python allocations; the engine writes each
resource as it reads it, so it should stay at about one page of 500 resources). The database
is the cached seeded SQLite file of bench/search_bench.py (same key), so the two benchmarks
share one seed run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_bench import sqlite_cache  # noqa: E402


def measure(repo, level: str, folder: Path) -> dict:
    from ehelse.access.actor import SYSTEM
    from ehelse.bulk.engine import ExportRun, secured
    from ehelse.bulk.request import parse
    from ehelse.settings import Settings
    from ehelse.storage.stamp import now_instant

    request = parse(level, f"bench/{level}/$export", [], None)
    run = ExportRun(secured(repo, SYSTEM), request, now_instant(), folder, Settings.from_env({}))
    tracemalloc.start()
    started = time.perf_counter()
    result = run.run()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = sum(f.stat().st_size for f in folder.glob("*.ndjson"))
    return {"level": level, "resources": result.total, "seconds": round(seconds, 2),
            "resources_per_s": round(result.total / seconds) if seconds else None,
            "peak_memory_mb": round(peak / 2**20, 1), "output_mb": round(size / 2**20, 1),
            "types": len(result.output)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="30 patients, no cache (smoke test)")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    from ehelse.storage.sqlite import SqliteRepository

    patients = 30 if args.quick else args.patients
    with tempfile.TemporaryDirectory() as tmp:
        path = sqlite_cache(patients, args.seed, args.quick, Path(tmp) if args.quick else None)
        repo = SqliteRepository(f"sqlite:///{path.resolve()}")
        try:
            repo.upgrade()
            rows = [measure(repo, level, Path(tmp) / level) for level in ("system", "patient")]
        finally:
            repo.close()
    report = {"benchmark": "bulk export", "patients": patients, "backend": "sqlite", "results": rows}
    for row in rows:
        print(f"{row['level']:>7}: {row['resources']:,} resources in {row['seconds']} s = "
              f"{row['resources_per_s']:,}/s, peak {row['peak_memory_mb']} MB, output {row['output_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
