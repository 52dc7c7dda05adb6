"""Bulk Data export throughput: resources/s and peak memory of the $export engine
(src/ehelse/bulk/engine.py) over a seeded population, as a system-level export by the admin
(every type, the access layer and its audit included) and as a Patient-level export (each
resource's compartment checked).

    .venv/bin/python bench/export_bench.py                        # 10,000 patients (cached seed)
    .venv/bin/python bench/export_bench.py --patients 1000 --levels system
    .venv/bin/python bench/export_bench.py --quick                # 30 patients, no cache: the smoke test
    .venv/bin/python bench/export_bench.py --keep /tmp/export     # keep the NDJSON (bench/analytics_bench.py --ndjson)

The export writes (its audit events, the schema check), so it runs on a copy of the cached
seeded SQLite file of bench/search_bench.py (same key; the cache itself is never written):
`--copy-dir` says where the copy goes (default: the system temp folder; the N=10,000 file is
about 7 GB).

Figures per level: wall seconds and resources/s; CPU seconds (time.process_time: this
process's CPU, so a fair figure on a shared machine) and resources per CPU-second; peak memory
as the process's peak RSS (getrusage) and, with --tracemalloc, tracemalloc's peak of Python
allocations in a second, separate run (tracemalloc slows the run, so it is never timed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_bench import sqlite_cache  # noqa: E402


def cached_seed(patients: int, seed: int) -> Path:
    """The shared seeded file of bench/search_bench.py, only once it is complete: a file
    without its .done marker is being built by another process, and sqlite_cache would
    delete and rebuild it."""
    from bench.search_bench import CACHE

    path = CACHE / f"search-n{patients}-s{seed}.sqlite"
    if path.exists() and not path.with_suffix(".done").exists():
        raise SystemExit(f"{path} is still being built (no {path.with_suffix('.done').name} yet); try later")
    return sqlite_cache(patients, seed, False)


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def export_once(repo, level: str, folder: Path):
    from ehelse.access.actor import SYSTEM
    from ehelse.bulk.engine import ExportRun, secured
    from ehelse.bulk.request import parse
    from ehelse.settings import Settings
    from ehelse.storage.stamp import now_instant

    request = parse(level, f"bench/{level}/$export", [], None)
    return ExportRun(secured(repo, SYSTEM), request, now_instant(), folder, Settings.from_env({})).run()


def measure(repo, level: str, folder: Path, with_tracemalloc: bool) -> dict:
    rss_before = rss_mb()
    cpu, started = time.process_time(), time.perf_counter()
    result = export_once(repo, level, folder)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    size = sum(f.stat().st_size for f in folder.glob("*.ndjson"))
    row = {"level": level, "resources": result.total, "seconds": round(seconds, 2),
           "resources_per_s": round(result.total / seconds) if seconds else None,
           "cpu_s": round(cpu, 2), "resources_per_cpu_s": round(result.total / cpu) if cpu else None,
           "rss_before_mb": round(rss_before, 1), "peak_rss_mb": round(peak_rss, 1),
           "output_mb": round(size / 2**20, 1), "types": len(result.output)}
    if with_tracemalloc:
        again = folder.with_name(folder.name + "-tracemalloc")
        tracemalloc.start()
        export_once(repo, level, again)
        row["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        shutil.rmtree(again, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="30 patients, no cache (smoke test)")
    parser.add_argument("--levels", default="system,patient", help="comma-separated: system, patient")
    parser.add_argument("--tracemalloc", action="store_true", help="also a tracemalloc run per level (slow)")
    parser.add_argument("--copy-dir", type=Path, default=None, help="where the database copy goes")
    parser.add_argument("--keep", type=Path, default=None, help="keep the export files here (per level)")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    from ehelse.storage.sqlite import SqliteRepository

    patients = 30 if args.quick else args.patients
    with tempfile.TemporaryDirectory(dir=args.copy_dir) as tmp:
        cached = (sqlite_cache(patients, args.seed, True, Path(tmp)) if args.quick
                  else cached_seed(patients, args.seed))
        if args.quick:
            path = cached
        else:  # never write to the shared cache: copy it (with its WAL, if any)
            path = Path(tmp) / cached.name
            started = time.perf_counter()
            for suffix in ("", "-wal"):
                if Path(str(cached) + suffix).exists():
                    shutil.copyfile(str(cached) + suffix, str(path) + suffix)
            print(f"copied {cached.name} ({path.stat().st_size / 2**30:.1f} GB) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        repo = SqliteRepository(f"sqlite:///{path.resolve()}")
        rows = []
        try:
            repo.upgrade()
            for level in args.levels.split(","):
                out = (args.keep / level) if args.keep else Path(tmp) / level
                rows.append(measure(repo, level, out, args.tracemalloc))
                row = rows[-1]
                print(f"{row['level']:>7}: {row['resources']:,} resources in {row['seconds']} s = "
                      f"{row['resources_per_s']:,}/s ({row['resources_per_cpu_s']:,} per CPU-s), "
                      f"peak RSS {row['peak_rss_mb']} MB (before {row['rss_before_mb']} MB)"
                      + (f", tracemalloc peak {row['tracemalloc_peak_mb']} MB" if "tracemalloc_peak_mb" in row else "")
                      + f", output {row['output_mb']} MB", flush=True)
        finally:
            repo.close()
    report = {"benchmark": "bulk export", "patients": patients, "backend": "sqlite",
              "load_average": os.getloadavg(), "results": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
