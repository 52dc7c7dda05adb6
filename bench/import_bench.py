"""Import benchmark: the Synthea transaction bundles into fresh databases, validation on.

Issue 2's target: >= 2,000 resources/s on SQLite and >= 1,000 on PostgreSQL, importing the
22 files of ../shared/data/synthea-r4-dev (20 patient bundles plus the hospital and
practitioner bundles; 6,732 entries) five times, each time into a new database.

The engine measured is the one `ehelse import` uses (ehelse.importer.Importer), called
in-process: each file is a FHIR transaction (http://hl7.org/fhir/R4/http.html#transaction)
handed to the router, so Python start-up and database creation stay out of the timing. Resources counted are those the
server reports created (entry.response.status 201), not the entries sent.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench import synthea_dir
from bench.cpu import CpuMeter, per_cpu_second
from bench.databases import fresh_database

# Published figures (Health Samurai, public FHIR server benchmark, June 2026), import of
# Synthea bundles, each server on 8 server + 8 database vCPUs.
PUBLISHED = {"Aidbox": 2678.0, "HAPI": 2214.0, "Medplum": 764.0}
PUBLISHED_VCPUS = 16
TARGETS = {"sqlite": 2000.0, "postgresql": 1000.0}


def bundle_files(directory: Path) -> list[Path]:
    """The bundles in import order: hospital and practitioner information first, since the
    patient bundles refer to their Organizations, Locations and Practitioners."""
    files = sorted(directory.glob("*.json"))
    shared = [f for f in files if f.name.startswith(("hospitalInformation", "practitionerInformation"))]
    return shared + [f for f in files if f not in shared]


def quick_files(directory: Path) -> list[Path]:
    """--quick: the two shared bundles and the smallest patient bundle."""
    files = bundle_files(directory)
    return files[:2] + sorted(files[2:], key=lambda f: f.stat().st_size)[:1]


def import_once(backend: str, files: list[Path]) -> dict:
    """One run: a fresh database, every bundle imported by the engine of `ehelse import`
    (ehelse.importer.Importer, through the router, validation on); created and seconds."""
    from ehelse.importer import Importer
    from ehelse.settings import get_settings
    from ehelse.storage import open_repository

    with fresh_database(backend, label="import") as url:
        repo = open_repository(url)
        try:
            repo.upgrade()
            importer = Importer(repo, get_settings(validate=True, database_url=url))
            with CpuMeter() as cpu:
                started = time.perf_counter()
                summary = importer.run(files)
                seconds = time.perf_counter() - started
        finally:
            repo.close()
    created = summary.total_created
    if created == 0:  # a benchmark of nothing would print a meaningless 0/s
        raise RuntimeError(f"nothing was imported on {backend}; rejections: "
                           f"{[r.reason for r in summary.rejected[:3]]}")
    return {"resources": created, "updated": summary.total_updated,
            "rejected": len(summary.rejected),
            "first_rejections": [f"{r.where}: {r.reason}"[:300] for r in summary.rejected[:3]],
            "seconds": round(seconds, 3), "cpu": cpu.result,
            "resources_per_cpu_s": per_cpu_second(created, cpu.result, postgres=backend == "postgresql"),
            "resources_per_s": round(created / seconds, 1) if seconds > 0 else 0.0}


def per_cpu_comparison(median: float, cpus: int) -> dict:
    """Ours per CPU (the machine's cores, shared with the database) against each published
    server per vCPU (8 server + 8 database)."""
    ours = median / cpus
    return {name: {"their_per_vcpu": round(value / PUBLISHED_VCPUS, 1),
                   "ratio_per_cpu": round(ours / (value / PUBLISHED_VCPUS), 2)}
            for name, value in PUBLISHED.items()}


def run(backends: list[str], *, runs: int = 5, quick: bool = False, cpus: int = 2) -> dict:
    directory = synthea_dir()
    if directory is None:
        return {"skipped": "../shared/data/synthea-r4-dev is absent"}
    files = quick_files(directory) if quick else bundle_files(directory)
    result: dict = {"files": len(files), "entries_sent": _count_entries(files),
                    "validation": True, "engine": "ehelse.importer.Importer, in-process",
                    "published_resources_per_s": PUBLISHED, "published_vcpus": PUBLISHED_VCPUS,
                    "backends": {}}
    for backend in backends:
        runs_done = [import_once(backend, files) for _ in range(runs)]
        median = statistics.median(r["resources_per_s"] for r in runs_done)
        result["backends"][backend] = {
            "runs": runs_done,
            "median_resources_per_s": round(median, 1),
            "target_resources_per_s": TARGETS[backend],
            "ratio_to_target": round(median / TARGETS[backend], 2),
            "per_cpu": round(median / cpus, 1),
            "median_resources_per_cpu_s": round(statistics.median(
                r["resources_per_cpu_s"] for r in runs_done), 1),
            "vs_published_per_cpu": per_cpu_comparison(median, cpus),
        }
    return result


def _count_entries(files: list[Path]) -> int:
    import orjson

    return sum(len(orjson.loads(f.read_bytes()).get("entry", [])) for f in files)
