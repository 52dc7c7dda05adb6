"""Access-rule cost: read and search throughput for a citizen and for a clinician, absolute
and as a ratio of the same requests made with an admin token (issue 6: target >= 0.7).

Every request goes the way a served one does, without HTTP: FhirRequest -> Router.handle
against a SecuredRepository built for the request (access/repository.py), so the figures
include building the actor's view, the SQL access filter, the per-resource checks and the
audit record, which is durable before the answer (admins are audited too, so the ratio is
the price of the rules themselves). Requests run from WORKERS threads for a fixed time each,
on an embedded SQLite database seeded with `--patients` people (the demo cast among them);
actor and admin load alternate in ROUNDS slices, so a busy neighbour slows both alike.

    .venv/bin/python -m bench.access_bench [--patients 100] [--seconds 5] [--workers 4]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import orjson

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.fhir.request import FhirRequest
from ehelse.fhir.router import Router
from ehelse.nobasis.seed import DEMO_CAST, seed
from ehelse.settings import Settings
from ehelse.storage import open_repository

TARGET_RATIO = 0.7
ROUNDS = 5  # alternating slices of actor and admin load per workload
C = DEMO_CAST


def actors() -> dict[str, Actor]:
    return {
        "admin": Actor("admin", "admin", ("system/*.*",), token_id="bench-admin"),
        "citizen": Actor("patient", C["kari"].fnr, ("launch/patient", "patient/*.rs"), patient=C["kari"].fnr,
                         token_id="bench-citizen"),
        "clinician": Actor("practitioner", C["gp"].hpr, ("user/*.cruds",), organization=C["gp"].orgnr,
                           purpose="TREAT", token_id="bench-clinician"),
    }


def workloads(repo) -> dict[str, dict[str, tuple[str, list[tuple[str, str]]]]]:
    """Per actor whose record is used: (path, query) of a read by id and of a search."""
    def first(type: str, patient: str) -> str:
        from ehelse.storage import SearchParam, SearchQuery

        page = repo.search(type, SearchQuery(params=[SearchParam("subject", None, (f"Patient/{patient}",))], count=1))
        return page.entries[0].id

    return {
        "citizen": {"read": (f"Observation/{first('Observation', 'demo-kari')}", []),
                    "search": ("Observation", [("subject", "Patient/demo-kari"), ("_count", "20")]),
                    # no patient named: the compartment filter compiled into the SQL does the work
                    "search-all": ("Observation", [("status", "final"), ("_count", "20")])},
        "clinician": {"read": (f"Observation/{first('Observation', 'demo-astrid')}", []),
                      "search": ("Observation", [("subject", "Patient/demo-astrid"), ("_count", "20")]),
                      "search-all": ("Observation", [("status", "final"), ("_count", "20")])},
    }


def measure(repo, router: Router, policy: AccessPolicy, actor: Actor, path: str, query: list, *, seconds: float,
            workers: int) -> float:
    """Requests per second for `seconds`, from `workers` threads; every answer must be 200."""
    stop = time.perf_counter() + seconds
    counts = [0] * workers
    failures: list[str] = []

    def work(slot: int) -> None:
        while time.perf_counter() < stop:
            request = FhirRequest("GET", path, list(query), {}, b"", "http://bench/fhir", actor=actor)
            response = router.handle(request, SecuredRepository(repo, actor, policy))
            if response.status != 200:
                failures.append(f"{response.status} {response.body or response.resource}"[:300])
                return
            counts[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{actor.kind} {path}: {failures[0]}")
    return sum(counts) / (time.perf_counter() - started)


def run(patients: int, seconds: float, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        repo = open_repository(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        repo.upgrade()
        seed(repo, patients, 1, reference_date=date.today(), validate_every=0)
        router, policy = Router(Settings.from_env({}, validate=False)), AccessPolicy()
        who = actors()
        results: dict = {"patients": patients, "seconds": seconds, "workers": workers, "target_ratio": TARGET_RATIO,
                         "rows": []}
        for kind, loads in workloads(repo).items():
            for name, (path, query) in loads.items():
                measure(repo, router, policy, who[kind], path, query, seconds=0.5, workers=workers)  # warm up
                # Interleaved slices, so load from elsewhere on a shared machine hits both alike.
                slice_ = seconds / ROUNDS
                actor_rps = admin_rps = 0.0
                for _ in range(ROUNDS):
                    actor_rps += measure(repo, router, policy, who[kind], path, query, seconds=slice_,
                                         workers=workers) / ROUNDS
                    admin_rps += measure(repo, router, policy, who["admin"], path, query, seconds=slice_,
                                         workers=workers) / ROUNDS
                results["rows"].append({"actor": kind, "workload": name, "requests_per_s": round(actor_rps, 1),
                                        "admin_requests_per_s": round(admin_rps, 1),
                                        "ratio": round(actor_rps / admin_rps, 3)})
        repo.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    results = run(args.patients, args.seconds, args.workers)
    print(f"{'actor':<10} {'workload':<10} {'req/s':>8} {'admin req/s':>12} {'ratio':>6}")
    for row in results["rows"]:
        flag = "" if row["ratio"] >= TARGET_RATIO else "  (below target)"
        print(f"{row['actor']:<10} {row['workload']:<10} {row['requests_per_s']:>8} {row['admin_requests_per_s']:>12}"
              f" {row['ratio']:>6}{flag}")
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
