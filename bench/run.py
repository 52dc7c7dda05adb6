"""Run the benchmarks: `python -m bench.run [--only import,read,crud] [--quick]`.

Writes bench/results/report.json (every figure, with machine info: nproc, Python version,
git commit) and prints a readable table. `make bench` runs the default set (under ~10
minutes); `--quick` runs each benchmark in a tiny form (under ~30 s) so the code cannot rot.
A benchmark that cannot run (PostgreSQL down, ../shared absent) is recorded as skipped with
the reason; one that fails is recorded with its error, and the others still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import orjson

from bench import REPO_ROOT, RESULTS_DIR
from bench.databases import BACKENDS, postgres_available
from bench.machine import bare_granian, python_speed_ms
from bench.report import print_tables

BENCHMARKS = ("import", "read", "crud")


def machine_info() -> dict:
    def command(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=REPO_ROOT,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                          if line.startswith("model name")), "")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": command("git", "rev-parse", "HEAD"),
        "git_dirty": bool(command("git", "status", "--porcelain", "--untracked-files=no")),
        "wrk": command("wrk", "-v").splitlines()[0] if shutil.which("wrk") else None,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        # bench/machine.py: compare absolute figures across reports only at a like speed
        "python_speed_ms": {"before": python_speed_ms()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help="comma-separated benchmarks to run: import,read,crud")
    parser.add_argument("--quick", action="store_true",
                        help="tiny runs (seconds) to check the benchmark code works")
    parser.add_argument("--backends", default=None,
                        help="comma-separated: sqlite,postgresql (default: both; --quick: sqlite)")
    parser.add_argument("--workers", default="2",
                        help="server worker counts to try, comma-separated (e.g. 1,2)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "report.json")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    backends = args.backends or ("sqlite" if args.quick else ",".join(BACKENDS))
    args.backends = [b.strip() for b in backends.split(",") if b.strip()]
    if set(args.backends) - set(BACKENDS):
        parser.error(f"backends must be among {', '.join(BACKENDS)}")
    args.workers = [int(w) for w in args.workers.split(",")]
    return args


def run_benchmarks(args: argparse.Namespace) -> dict:
    from bench import crud_bench, import_bench, read_bench

    cpus = os.cpu_count() or 1
    report: dict = {"machine": machine_info(), "quick": args.quick, "backends": list(args.backends),
                    "workers": args.workers, "benchmarks": {}}
    backends = list(args.backends)
    if "postgresql" in backends:
        reason = postgres_available()
        if reason:
            report["skipped_backends"] = {"postgresql": reason}
            backends.remove("postgresql")
    quick = args.quick
    plans = {
        "import": lambda: import_bench.run(backends, runs=1 if quick else 5, quick=quick, cpus=cpus),
        "read": lambda: read_bench.run(backends, workers=args.workers,
                                       connections=8 if quick else 32,
                                       seconds=1 if quick else 10, patients=20 if quick else 200),
        "crud": lambda: crud_bench.run(backends, workers=args.workers, users=4 if quick else 32,
                                       seconds=1.5 if quick else 20, cpus=cpus),
    }
    for name in args.only:
        started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            result = plans[name]()
        except Exception as exc:  # record and go on: one broken benchmark must not hide the rest
            result = {"error": f"{exc.__class__.__name__}: {exc}",
                      "traceback": traceback.format_exc(limit=8)}
        result["wall_s"] = round(time.perf_counter() - started, 1)
        report["benchmarks"][name] = result
    report["machine"]["python_speed_ms"]["after"] = python_speed_ms()
    if not args.quick:  # the yardstick (bench/machine.py), after the benchmarks: nothing else runs
        report["machine"]["bare_granian"] = bare_granian()
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_benchmarks(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_tables(report)
    print(f"\nreport: {args.output}")
    failed = [name for name, result in report["benchmarks"].items() if "error" in result]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
