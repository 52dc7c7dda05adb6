"""CRUD benchmark: the HealthSamurai k6 CRUD scenario over HTTP, asyncio virtual users.

Each iteration of each virtual user (k6/crud.js of github.com/HealthSamurai/fhir-server-
performance-benchmark): create the nine linked resources of bench/crud_seeds.py in order
(POST, 201), read each (GET, 200), update each (PUT of the read-back resource with one
change, 200), and delete them in reverse order (DELETE, 200 or 204: http.html#delete allows
either). One HTTP request is one operation. Interactions: http://hl7.org/fhir/R4/http.html.

Issue 2's target: >= 1,500 operations/s on SQLite, >= 800 on PostgreSQL, with p50/p95/p99.
Published (8 server vCPUs plus the database's 8): Aidbox 5,212/s, HAPI 3,058/s, Medplum 1,420/s.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench import loadgen
from bench.cpu import CpuMeter, per_cpu_second
from bench.crud_seeds import ORDER, changed, linked
from bench.databases import fresh_database
from bench.server import admin_token, ehelse_server, settle_audit, upgrade_database

PUBLISHED = {"Aidbox": 5212.0, "HAPI": 3058.0, "Medplum": 1420.0}
PUBLISHED_VCPUS = 16
TARGETS = {"sqlite": 1500.0, "postgresql": 800.0}
WARM_UP_S = 3.0


class IterationFailed(Exception):
    """A create did not give 201: the rest of the iteration has nothing to refer to."""


def _resource_from(response: loadgen.Response, sent: dict) -> dict:
    """The created resource: the response body (Prefer: return=representation is the
    default), else what was sent with the id from the Location header."""
    if response.body:
        return orjson.loads(response.body)
    location = response.headers.get("location", "")
    # Location: [base]/Type/id/_history/vid (http.html#create)
    parts = location.split("/_history/")[0].rstrip("/").split("/")
    return {**sent, "id": parts[-1]}


async def iteration(connection: loadgen.Connection, recorder: loadgen.LatencyRecorder) -> None:
    created: dict[str, dict] = {}
    ids: dict[str, str] = {}
    for type in ORDER:
        resource = linked(type, ids)
        response = await loadgen.timed(recorder, "create", connection, "POST", f"/{type}",
                                       orjson.dumps(resource), expect=201)
        if response.status != 201:
            raise IterationFailed(f"create {type}: {response.status} {response.body[:300]!r}")
        created[type] = _resource_from(response, resource)
        ids[type] = created[type]["id"]
    for type in ORDER:
        await loadgen.timed(recorder, "read", connection, "GET", f"/{type}/{ids[type]}")
    for type in ORDER:
        body = orjson.dumps(changed(created[type]))
        await loadgen.timed(recorder, "update", connection, "PUT", f"/{type}/{ids[type]}", body)
    for type in reversed(ORDER):
        await loadgen.timed(recorder, "delete", connection, "DELETE", f"/{type}/{ids[type]}",
                            expect=(200, 204))


async def virtual_user(base_url: str, token: str, deadline: float,
                       recorder: loadgen.LatencyRecorder, failures: list[str]) -> int:
    """Iterate until the deadline; returns the iterations completed."""
    connection = loadgen.Connection(base_url, default_headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
        "Accept": "application/fhir+json"})
    iterations = 0
    try:
        while time.perf_counter() < deadline:
            try:
                await iteration(connection, recorder)
                iterations += 1
            except IterationFailed as failure:
                failures.append(str(failure))
                if len(failures) > 50:  # the server is refusing: stop rather than spin
                    break
    finally:
        await connection.close()
    return iterations


async def load(base_url: str, token: str, *, users: int, seconds: float) -> dict:
    recorder = loadgen.LatencyRecorder()
    failures: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    iterations = await asyncio.gather(*(virtual_user(base_url, token, deadline, recorder, failures)
                                        for _ in range(users)))
    duration = time.perf_counter() - started
    summary = recorder.summary(duration)
    return {"virtual_users": users, "duration_s": round(duration, 2),
            "iterations": sum(iterations), "operations": recorder.count,
            "ops_per_s": summary["all"]["ops_per_s"], "errors": summary["all"]["errors"],
            "by_operation": summary, "failed_iterations": len(failures),
            "first_failures": failures[:3]}


def bench_backend(backend: str, *, workers: int, users: int, seconds: float, cpus: int) -> dict:
    with fresh_database(backend, label="crud") as url:
        upgrade_database(url)
        token = admin_token(url)
        with ehelse_server(url, workers=workers) as server:
            # a short warm-up, so each worker has its connections and caches before timing
            # Warm-up with every virtual user, so that each server worker has loaded what it
            # loads on first use (search registry, validation definitions per type) before
            # the timed run: the figure is the steady state, not the start-up.
            loadgen.run(load(server.base_url + "/fhir", token, users=users, seconds=min(WARM_UP_S, seconds)))
            with CpuMeter(server.process_group) as cpu:
                result = loadgen.run(load(server.base_url + "/fhir", token, users=users,
                                          seconds=seconds))
                settle_audit(server.base_url, token)  # the reads' records' move into the table counts too
            if result["iterations"] == 0:  # figures of failures only would mislead
                raise RuntimeError(f"no CRUD iteration completed on {backend}: "
                                   f"{result['first_failures'][:1]}\nserver log:\n"
                                   f"{server.log_tail(1500)}")
    result["cpu"] = cpu.result
    result["ops_per_cpu_s"] = per_cpu_second(result["operations"], cpu.result,
                                             postgres=backend == "postgresql")
    target = TARGETS[backend]
    ops = result["ops_per_s"]
    result.update({
        "workers": workers,
        "target_ops_per_s": target,
        "ratio_to_target": round(ops / target, 2),
        "per_cpu": round(ops / cpus, 1),
        "vs_published_per_cpu": {name: round((ops / cpus) / (value / PUBLISHED_VCPUS), 2)
                                 for name, value in PUBLISHED.items()},
    })
    return result


def run(backends: list[str], *, workers: list[int], users: int = 32, seconds: float = 20.0,
        cpus: int = 2) -> dict:
    result: dict = {"loadgen": "python asyncio (bench/loadgen.py)", "scenario": "HealthSamurai k6 crud.js",
                    "published_ops_per_s": PUBLISHED, "published_vcpus": PUBLISHED_VCPUS,
                    "backends": {}}
    for backend in backends:
        for count in workers:
            key = f"{backend}/workers={count}"
            result["backends"][key] = bench_backend(backend, workers=count, users=users,
                                                    seconds=seconds, cpus=cpus)
    return result
