"""Read benchmark: GET /fhir/Patient/<id> over HTTP against a bare JSON endpoint.

Issue 2: 32 concurrent clients, requests/s of read by id (http://hl7.org/fhir/R4/http.html#read)
with a bearer token, and its ratio to a bare JSON endpoint on the same server stack; target
ratio >= 0.5. The bare endpoint is the server's own /healthz: the same `ehelse serve`
process, ASGI server, workers and middleware, a constant JSON body and no FHIR work (no
token check, no database). Both are measured one after the other on the same server, so
machine noise hits both alike.

Actor modes (citizen, clinician; their ratio to admin): `run(..., actors=True)` or
`python -m bench.read_actors` (bench/read_actors.py).

Load: wrk when installed (C, cheap on a shared 2-core machine), else bench/loadgen.py; the
report says which.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import orjson

from bench import loadgen, wrk
from bench.cpu import CpuMeter, per_cpu_second
from bench.crud_seeds import SEEDS
from bench.databases import fresh_database
from bench.server import admin_token, ehelse_server, settle_audit, upgrade_database

TARGET_RATIO = 0.5


async def seed_patients(base_url: str, token: str, count: int) -> list[str]:
    """Create `count` Patients through the API; their ids."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    body = orjson.dumps(SEEDS["Patient"])
    ids: list[str] = []

    async def creator(share: int) -> None:
        connection = loadgen.Connection(base_url, default_headers=headers)
        try:
            for _ in range(share):
                response = await connection.request("POST", "/Patient", body)
                if response.status != 201:
                    raise RuntimeError(f"seeding a Patient gave {response.status}: {response.body[:300]!r}")
                ids.append(orjson.loads(response.body)["id"] if response.body
                           else response.headers["location"].split("/_history/")[0].rsplit("/", 1)[-1])
        finally:
            await connection.close()

    clients = 4
    try:
        # a TaskGroup cancels the other creators cleanly when one fails
        async with asyncio.TaskGroup() as group:
            for i in range(clients):
                group.create_task(creator(count // clients + (1 if i < count % clients else 0)))
    except* RuntimeError as failures:
        raise failures.exceptions[0] from None
    return ids


async def python_get_load(base_url: str, paths: list[str], *, token: str, connections: int,
                          seconds: float) -> dict:
    """The fallback when wrk is absent: the same GET cycle from asyncio connections."""
    recorder = loadgen.LatencyRecorder()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    deadline = started + seconds

    async def client(offset: int) -> None:
        connection = loadgen.Connection(base_url, default_headers=headers)
        position = offset
        try:
            while time.perf_counter() < deadline:
                position = (position + 1) % len(paths)
                await loadgen.timed(recorder, "get", connection, "GET", paths[position])
        finally:
            await connection.close()

    await asyncio.gather(*(client(i * 7919) for i in range(connections)))
    duration = time.perf_counter() - started
    figures = recorder.summary(duration)["all"]
    return {"tool": "python-asyncio", "requests": figures["count"], "duration_s": round(duration, 2),
            "requests_per_s": figures["ops_per_s"], "errors": figures["errors"],
            "p50_ms": figures["p50_ms"], "p95_ms": figures["p95_ms"], "p99_ms": figures["p99_ms"],
            "connections": connections}


def get_load(base_url: str, paths: list[str], *, token: str, connections: int, seconds: float) -> dict:
    if wrk.wrk_path():
        return wrk.run_wrk(base_url, paths, token=token, connections=connections, seconds=seconds)
    return loadgen.run(python_get_load(base_url, paths, token=token, connections=connections,
                                       seconds=seconds))


_AUDIT_LINE = re.compile(r'^ehelse_audit_(records|commits)_total\{chain="([^"]+)",process="([^"]+)"\} (\d+)$', re.M)


def audit_counters(base_url: str, workers: int, tries: int = 40) -> dict[str, dict[str, int]]:
    """Each worker's audit counters from /metrics, summed over its chains (its trail's and,
    on SQLite, its journal's; audit/journal.py), by process: a scrape reaches one worker,
    so scrape until every worker has answered."""
    found: dict[str, dict[str, int]] = {}
    for _ in range(tries):
        try:
            with urllib.request.urlopen(base_url + "/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            continue
        seen: dict[str, dict[str, int]] = {}
        for kind, _chain, process, value in _AUDIT_LINE.findall(text):
            counters = seen.setdefault(process, {})
            counters[kind] = counters.get(kind, 0) + int(value)
        found.update(seen)
        if len(found) >= workers:
            break
    return found


def audit_batches(before: dict, after: dict) -> dict:
    """Audit records and commits during the FHIR load (workers seen in both scrapes): the
    group commit's batch size is records per commit."""
    records = sum(after[c].get("records", 0) - before[c].get("records", 0) for c in after if c in before)
    commits = sum(after[c].get("commits", 0) - before[c].get("commits", 0) for c in after if c in before)
    return {"records": records, "commits": commits, "workers_seen": len(set(after) & set(before)),
            "records_per_commit": round(records / commits, 1) if commits else None}


def server_us(count: int, cpu: dict[str, float], *, postgres: bool) -> float:
    """Server CPU per request in microseconds (with PostgreSQL's when it is the backend):
    the ratio of two of these is what the requests/s ratio would be on a machine where
    nothing else runs, and far steadier than requests/s on a shared one (the load
    generator's CPU, which req/CPU-s includes, is left out)."""
    seconds = cpu.get("server_cpu_s", 0.0) + (cpu.get("postgres_cpu_s", 0.0) if postgres else 0.0)
    return round(seconds / count * 1e6, 1) if count else 0.0


def bench_backend(backend: str, *, workers: int, connections: int, seconds: float,
                  patients: int) -> dict:
    """Bare (/healthz) then FHIR read, on one server; both figures and their ratio."""
    with fresh_database(backend, label="read") as url:
        upgrade_database(url)
        token = admin_token(url)
        with ehelse_server(url, workers=workers) as server:
            try:
                ids = loadgen.run(seed_patients(server.base_url + "/fhir", token, patients))
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\nserver log:\n{server.log_tail(1500)}") from None
            paths = [f"/fhir/Patient/{id}" for id in ids]
            get_load(server.base_url, paths, token=token, connections=connections, seconds=1)
            with CpuMeter(server.process_group) as bare_cpu:
                bare = get_load(server.base_url, ["/healthz"], token=token,
                                connections=connections, seconds=seconds)
            before = audit_counters(server.base_url, workers)
            with CpuMeter(server.process_group) as fhir_cpu:
                fhir = get_load(server.base_url, paths, token=token, connections=connections,
                                seconds=seconds)
                settle_audit(server.base_url, token)  # the records' move into the table counts too
            fhir["audit"] = audit_batches(before, audit_counters(server.base_url, workers))
    for figures, meter in ((bare, bare_cpu), (fhir, fhir_cpu)):
        figures["cpu"] = meter.result
        figures["requests_per_cpu_s"] = per_cpu_second(figures["requests"], meter.result,
                                                       postgres=backend == "postgresql")
        figures["server_us_per_request"] = server_us(figures["requests"], meter.result,
                                                     postgres=backend == "postgresql")
    fhir["patients"] = len(ids)
    ratio = fhir["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0.0
    cpu_ratio = (fhir["requests_per_cpu_s"] / bare["requests_per_cpu_s"]
                 if bare["requests_per_cpu_s"] else 0.0)
    server_ratio = (bare["server_us_per_request"] / fhir["server_us_per_request"]
                    if fhir["server_us_per_request"] else 0.0)
    return {"workers": workers, "bare": bare, "fhir_read": fhir, "ratio_to_bare": round(ratio, 3),
            "ratio_to_bare_per_cpu_s": round(cpu_ratio, 3),
            "ratio_to_bare_server_cpu": round(server_ratio, 3),
            "ratio_to_target": round(ratio / TARGET_RATIO, 2)}


def run(backends: list[str], *, workers: list[int], connections: int = 32, seconds: float = 10.0,
        patients: int = 200, actors: bool = False) -> dict:
    """With `actors`, also the reads of a citizen and a clinician against an admin's
    (bench/read_actors.py: a seeded database, demo-cast tokens) under result["actors"]."""
    result: dict = {"connections": connections, "seconds": seconds,
                    "load_generator": "wrk" if wrk.wrk_path() else "python-asyncio",
                    "bare_endpoint": "/healthz on the same ehelse serve process",
                    "target_ratio": TARGET_RATIO, "runs": {}}
    for backend in backends:
        for count in workers:
            result["runs"][f"{backend}/workers={count}"] = bench_backend(
                backend, workers=count, connections=connections, seconds=seconds, patients=patients)
    if actors:
        from bench import read_actors  # it builds on this module's load helpers

        result["actors"] = read_actors.run(backends, workers=workers, connections=connections, seconds=seconds)
    return result
