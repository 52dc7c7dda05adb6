"""Storage-only speed: write the Synthea resources in 20 transactions, read them by id.

Not a test (pytest does not collect it); the bench measures the whole server. Run:
    .venv/bin/python tests/storage/measure_bulk.py [sqlite] [postgres] [storage-only]
Uses ../shared/data/synthea-r4-dev when present, else 6,732 synthetic Observations.
"""

from __future__ import annotations

import copy
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from testsupport import pg_base_url, schema_url, shared_path  # noqa: E402

from ehelse.storage.index import identifier_indexer  # noqa: E402

TRANSACTIONS = 20


def load_resources() -> list[dict]:
    shared = shared_path()
    resources: list[dict] = []
    seen: set[tuple[str, str]] = set()
    if shared is not None:
        for path in sorted((shared / "data" / "synthea-r4-dev").glob("*.json")):
            bundle = orjson.loads(path.read_bytes())
            for entry in bundle.get("entry", []):
                resource = entry["resource"]
                resource["id"] = entry.get("fullUrl", "").rpartition(":")[2] or resource.get("id")
                if (resource["resourceType"], resource["id"]) not in seen:  # hospital bundles repeat some
                    seen.add((resource["resourceType"], resource["id"]))
                    resources.append(resource)
    if not resources:
        resources = [{"resourceType": "Observation", "id": f"o{n}", "status": "final",
                      "identifier": [{"system": "urn:x", "value": str(n)}],
                      "valueQuantity": {"value": 1.5, "unit": "mg"}} for n in range(6732)]
    return resources


def measure(name: str, repo, resources: list[dict]) -> None:
    batch = -(-len(resources) // TRANSACTIONS)
    work = copy.deepcopy(resources)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(work), batch):
        with repo.transaction():
            for resource in work[i:i + batch]:
                repo.create(resource, id=resource["id"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    # CPU time of this process too: the machine may be shared, and wall time says little then
    print(f"{name}: wrote {len(work)} resources in {TRANSACTIONS} transactions: "
          f"{len(work) / seconds:,.0f} resources/s wall, {len(work) / cpu:,.0f} per CPU-second here")
    keys = [(r["resourceType"], r["id"]) for r in resources]
    random.Random(1).shuffle(keys)
    start = time.perf_counter()
    for type, id in keys[:3000]:
        assert repo.read(type, id) is not None
    per_read = (time.perf_counter() - start) / min(3000, len(keys))
    print(f"{name}: read by id: {per_read * 1e6:,.0f} µs each")
    start = time.perf_counter()
    n = 0
    for type, id in keys[:1000]:
        repo.update({"resourceType": type, "id": id}, method="PUT")
        n += 1
    print(f"{name}: single updates (own transaction each): {n / (time.perf_counter() - start):,.0f} /s")
    crud_in_threads(name, repo)


def crud_in_threads(name: str, repo, threads: int = 8, cycles: int = 50) -> None:
    """create, read, update, read, delete per cycle, from several threads at once (as the
    server's thread pool does): commits of different threads share the disk flushes."""
    import threading

    def work(t: int) -> None:
        for n in range(cycles):
            id = f"crud-{t}-{n}"
            repo.create({"resourceType": "Patient", "active": True}, id=id)
            repo.read("Patient", id)
            repo.update({"resourceType": "Patient", "id": id, "active": False}, if_match=1)
            repo.read("Patient", id)
            repo.delete("Patient", id)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ops = threads * cycles * 5
    print(f"{name}: CRUD from {threads} threads: {ops / (time.perf_counter() - start):,.0f} ops/s")


def main(backends: list[str]) -> None:
    resources = load_resources()
    # `storage-only`: index identifiers only, to see storage apart from search extraction
    options = {"indexer": identifier_indexer} if "storage-only" in backends else {}
    print(f"{len(resources)} resources, indexer: {'identifier only' if options else 'default'}")
    if "sqlite" in backends:
        from ehelse.storage.sqlite import SqliteRepository

        with tempfile.TemporaryDirectory() as tmp:
            repo = SqliteRepository(f"sqlite:///{tmp}/bulk.sqlite", **options)
            measure("sqlite", repo, resources)
            repo.close()
    if "postgres" in backends:
        import psycopg

        from ehelse.storage.postgres import PostgresRepository

        admin = psycopg.connect(pg_base_url(), autocommit=True)
        admin.execute("DROP SCHEMA IF EXISTS ehelse_measure CASCADE; CREATE SCHEMA ehelse_measure")
        repo = PostgresRepository(schema_url(pg_base_url(), "ehelse_measure"), **options)
        repo.upgrade()
        try:
            measure("postgres", repo, resources)
        finally:
            repo.close()
            admin.execute("DROP SCHEMA ehelse_measure CASCADE")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args if set(args) - {"storage-only"} else [*args, "sqlite", "postgres"])
