"""The readable side of bench/results/report.json: plain-text tables on stdout."""

from __future__ import annotations


def _table(title: str, header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
              for row in cells[1:]]
    return "\n".join(lines)


def _cpu(figures: dict) -> str:
    """CPU shares (% of all cores) during the measurement: server / PostgreSQL / bench
    process / interrupts / everything else on the machine."""
    cpu = figures.get("cpu") or {}
    if not cpu:
        return ""
    return "/".join(f"{cpu.get(f'{party}_share', 0) * 100:.0f}" for party in ("server", "postgres", "bench", "interrupts", "other"))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def import_table(result: dict) -> str:
    rows = []
    for backend, figures in result.get("backends", {}).items():
        last_cpu = _cpu(figures["runs"][-1])
        per_run = " ".join(f"{r['resources_per_s']:.0f}" for r in figures["runs"])
        published = figures["vs_published_per_cpu"]
        rows.append([backend, figures["runs"][0]["resources"], per_run,
                     figures["median_resources_per_s"], figures.get("median_resources_per_cpu_s", ""),
                     figures["target_resources_per_s"],
                     figures["ratio_to_target"],
                     " ".join(f"{name} {v['ratio_per_cpu']}x" for name, v in published.items()),
                     last_cpu])
    return _table("Import (Synthea transaction bundles, validation on)",
                  ["backend", "resources", "res/s per run", "median res/s", "res/CPU-s", "target",
                   "x target", "per CPU vs published", "CPU % srv/db/bench/irq/other"], rows)


def read_table(result: dict) -> str:
    rows = []
    for key, run in result.get("runs", {}).items():
        for name in ("bare", "fhir_read"):
            figures = run[name]
            rows.append([f"{key} {name}", figures.get("tool", ""), figures["requests_per_s"],
                         figures.get("requests_per_cpu_s", ""), figures["errors"], figures["p50_ms"], figures["p99_ms"],
                         run["ratio_to_bare"] if name == "fhir_read" else "",
                         (figures.get("audit") or {}).get("records_per_commit") or "", _cpu(figures)])
    return _table(f"Read by id ({result.get('connections')} connections, "
                  f"target ratio >= {result.get('target_ratio')})",
                  ["run", "tool", "req/s", "req/CPU-s", "errors", "p50 ms", "p99 ms", "ratio to bare",
                   "audit rows/commit", "CPU % srv/db/bench/irq/other"], rows)


def crud_table(result: dict) -> str:
    rows = []
    for key, figures in result.get("backends", {}).items():
        for kind, stats in figures["by_operation"].items():
            rows.append([key if kind == "all" else f"  {kind}", stats["count"], stats["errors"],
                         stats["ops_per_s"], figures.get("ops_per_cpu_s", "") if kind == "all" else "",
                         stats["p50_ms"], stats["p95_ms"], stats["p99_ms"],
                         figures["ratio_to_target"] if kind == "all" else "",
                         _cpu(figures) if kind == "all" else ""])
    return _table("CRUD (HealthSamurai k6 scenario; one request = one operation)",
                  ["run / operation", "count", "errors", "ops/s", "ops/CPU-s", "p50 ms", "p95 ms", "p99 ms",
                   "x target", "CPU % srv/db/bench/irq/other"], rows)


TABLES = {"import": import_table, "read": read_table, "crud": crud_table}


def print_tables(report: dict) -> None:
    machine = report["machine"]
    print(f"ehelse benchmarks  commit {machine['git_commit'][:10]}{' (dirty)' if machine['git_dirty'] else ''}"
          f"  nproc {machine['nproc']}  Python {machine['python']}"
          f"{'  QUICK' if report.get('quick') else ''}")
    speed = machine.get("python_speed_ms") or {}
    if speed:  # bench/machine.py: lower is faster; absolute figures compare only at a like speed
        print("machine speed (bench/machine.py, ms, lower is faster): "
              + ", ".join(f"{moment} {value}" for moment, value in speed.items()))
    bare = machine.get("bare_granian")
    if bare:  # the targets were set where this endpoint did 49.4k req/s
        print(f"bare granian endpoint (bench/machine.py): {bare['requests_per_s']:,.0f} req/s, "
              f"{bare['ratio_to_issue_machine']} x the issue's machine (49.4k)")
    for backend, reason in report.get("skipped_backends", {}).items():
        print(f"skipped {backend}: {reason}")
    for name, result in report["benchmarks"].items():
        print()
        if "error" in result:
            print(f"{name}: FAILED {result['error']}")
        elif "skipped" in result:
            print(f"{name}: skipped ({result['skipped']})")
        else:
            print(TABLES[name](result))
