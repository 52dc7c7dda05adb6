"""Clinician workspace speed (issue 8): the patient summary <= 150 ms p95 server time and the
patient type-ahead <= 50 ms p95, with 8 concurrent users over a seeded population.

Each user is a thread with its own logged-in session (the built-in HelseID-style login as the
demo GP), driving the real ASGI app in process (Starlette TestClient: routing, sessions, CSRF,
access rules, audit, templates; no sockets). The figure is the `Server-Timing: app;dur=`
header the workspace sends (portals/ui/timing.py), i.e. the server's own time per request.
Summaries open random patients on the GP's list; type-ahead types 3-6 letter prefixes of their
names, full FNRs and their first six digits (the htmx fragment, `hx-request: true`).

By default the workspace is served as in production, `ehelse serve --workers 2` on a copy of
the seeded database, and the users are HTTP clients in this process (bench/portal_serve.py);
`--in-process` drives the app through Starlette's TestClient in this process instead (the
users' threads then share one GIL). The server's CPU per request is reported in served mode.

The seeded SQLite file is shared with bench/search_bench.py (bench/.cache/search-n<N>-s<seed>,
made once); the run works on a copy, since every page writes AuditEvents and sessions.

    .venv/bin/python -m bench.clinician_bench [--patients 10000] [--seconds 20] [--users 8] [--workers 2]
    .venv/bin/python -m bench.clinician_bench --in-process ...
    .venv/bin/python -m bench.clinician_bench --quick     # 30 patients, a few seconds: the smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import orjson

from bench.cpu import CpuMeter
from bench.portal_serve import http_client, serve

TARGETS = {"summary": 150.0, "typeahead": 50.0}  # ms, p95 of Server-Timing app;dur
P = "/helsepersonell"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else 0.0


def server_ms(response: Any) -> float:
    return server_parts(response)["app"]


def server_parts(response: Any) -> dict[str, float]:
    """Every part of the response's Server-Timing (`app`, and e.g. `page`, `fhir`, `audit`)."""
    parts = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+);dur=([\d.]+)",
                                                                response.headers.get("server-timing", ""))}
    if response.status_code != 200 or "app" not in parts:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return parts


def slowest(parts: list[dict[str, float]], share: float = 0.01) -> dict[str, float]:
    """The mean of each Server-Timing part over the slowest `share` of requests, and `other`:
    what `app` holds beyond the parts the page measured (waiting for a thread and the GIL
    before the handler runs, sending). Says where a tail comes from."""
    tail = sorted(parts, key=lambda p: p["app"], reverse=True)[:max(1, int(len(parts) * share))]
    names = sorted({k for p in tail for k in p})
    means = {k: round(sum(p.get(k, 0.0) for p in tail) / len(tail), 1) for k in names}
    inner = sum(means.get(k, 0.0) for k in ("access", "page", "audit"))
    means["other"] = round(means["app"] - inner, 1)
    return means


def database(patients: int, seed: int, quick: bool, tmp: Path) -> Path:
    """A private copy of the cached seeded database (or a fresh small one with --quick)."""
    from bench.search_bench import sqlite_cache

    source = sqlite_cache(patients, seed, quick, tmp if quick else None)
    if quick:
        return source
    target = tmp / source.name
    for suffix in ("", "-wal", "-shm"):
        if Path(str(source) + suffix).exists():
            shutil.copy(str(source) + suffix, str(target) + suffix)
    return target


def login(target: Any) -> Any:
    """The demo GP logged in: `target` is the ASGI app (in process) or the served base URL."""
    from ehelse.nobasis.seed import DEMO_CAST

    gp = DEMO_CAST["gp"]
    if isinstance(target, str):
        client = http_client(target)
    else:
        from starlette.testclient import TestClient

        client = TestClient(target, follow_redirects=False)
    client.get(P + "/logg-inn")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login/helseid").text).group(1)
    client.post("/login/helseid", data={"hpr": gp.hpr, "orgnr": gp.orgnr, "role": "lege", "purpose": "TREAT",
                                        "csrf_token": token})
    return client


def workload(repo: Any) -> tuple[list[str], list[str]]:
    """(patient ids on the GP's list, type-ahead texts)."""
    from ehelse.nobasis.seed import DEMO_CAST
    from ehelse.storage.protocol import SearchParam, SearchQuery

    query = SearchQuery(params=[SearchParam("general-practitioner", None,
                                            (f"PractitionerRole/{DEMO_CAST['gp'].role_id}",))], count=500, total="none")
    patients = [orjson.loads(v.content) for v in repo.search("Patient", query).entries]
    ids = [p["id"] for p in patients]
    rng = random.Random(8)
    texts = []
    for p in patients:
        name = (p.get("name") or [{}])[0]
        family = name.get("family", "")
        if len(family) >= 3:
            texts.append(family[: rng.randint(3, min(6, len(family)))])
        fnr = next((i["value"] for i in p.get("identifier") or [] if i.get("value", "").isdigit()
                    and len(i["value"]) == 11), None)
        if fnr:
            texts += [fnr, fnr[:6]]  # the whole number, and type-ahead from its birth-date digits
    return ids, texts


def run(app: Any, kind: str, targets: list[str], users: int, seconds: float,
        meter: Any = None) -> list[dict[str, float]]:
    timings: list[dict[str, float]] = []
    lock = threading.Lock()
    clients = [login(app) for _ in range(users)]
    deadline = time.monotonic() + seconds

    def user(index: int) -> None:
        rng = random.Random(index)
        client, mine = clients[index], []
        while not mine or time.monotonic() < deadline:  # at least one request each, however loaded the machine
            target = rng.choice(targets)
            if kind == "summary":
                response = client.get(f"{P}/pasient/{target}")
            else:
                response = client.get(f"{P}/pasienter/sok", params={"q": target}, headers={"hx-request": "true"})
            mine.append(server_parts(response))
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    with meter or nullcontext():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return timings


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="per workload")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (`ehelse serve --workers`)")
    parser.add_argument("--in-process", action="store_true",
                        help="drive the app in this process (TestClient) instead of serving it")
    parser.add_argument("--quick", action="store_true", help="30 patients, 2 s per workload (the smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.seconds = 30, 2.0
    from ehelse.settings import get_settings
    from ehelse.web.app import create_app

    workers = 0 if args.in_process else args.workers
    with tempfile.TemporaryDirectory(prefix="clinician-bench-") as tmp, ExitStack() as stack:
        path = database(args.patients, args.seed, args.quick, Path(tmp))
        server, app = None, None
        if workers:  # served (serve() upgrades the copy); this process only reads the workload from it
            from ehelse.storage.sqlite import SqliteRepository

            server = stack.enter_context(serve(path, workers))
            target: Any = server.base_url
            repo = SqliteRepository(f"sqlite:///{path}")
            ids, texts = workload(repo)
            repo.close()
        else:
            app = create_app(get_settings(database_url=f"sqlite:///{path}", rate_limit=0, log_level="warning"))
            app.state.repo.upgrade()  # a cached database from before a migration: bring the copy up to date
            ids, texts = workload(app.state.repo)
            target = app
        # Warm every worker process the way the run will use it (8 users at once, both pages):
        # templates compiled, care set made, connections' page caches filled. A few pages on
        # one connection warmed one worker only, and the other's first seconds (each of its
        # threads compiling the templates and making the care set at once) were measured.
        for kind, targets in (("summary", ids), ("typeahead", texts)):
            run(target, kind, targets, args.users, min(args.seconds / 4, 3.0))
        result: dict[str, Any] = {"patients": args.patients, "users": args.users, "seconds": args.seconds,
                                  "gp_list": len(ids), "workloads": {},
                                  "served": f"ehelse serve --workers {workers}" if workers else "in process (TestClient)"}
        for kind, targets in (("summary", ids), ("typeahead", texts)):
            meter = CpuMeter(server.process_group) if server is not None else None
            parts = run(target, kind, targets, args.users, args.seconds, meter)
            timings = [p["app"] for p in parts]
            figures = {"n": len(timings), "p50": round(statistics.median(timings), 1),
                       "p95": round(percentile(timings, 95), 1), "p99": round(percentile(timings, 99), 1),
                       "target_p95": TARGETS[kind]}
            figures["met"] = figures["p95"] <= TARGETS[kind]
            figures["slowest_1pct"] = slowest(parts)
            figures["parts_p95"] = {k: round(percentile([p.get(k, 0.0) for p in parts], 95), 1)
                                    for k in sorted({k for p in parts for k in p})}
            if meter is not None:  # the server's CPU per request: independent of the machine's other load
                figures["server_cpu_ms"] = round(meter.result["server_cpu_s"] * 1000 / max(len(timings), 1), 1)
                figures["cpu"] = meter.result
            result["workloads"][kind] = figures
            cpu = (f"; server CPU {figures['server_cpu_ms']} ms per request, machine shares server "
                   f"{meter.result['server_share']:.0%} bench {meter.result['bench_share']:.0%} "
                   f"others {meter.result['other_share']:.0%}") if meter is not None else ""
            print(f"{kind:10s} n={figures['n']:5d} p50={figures['p50']:7.1f} ms p95={figures['p95']:7.1f} ms "
                  f"p99={figures['p99']:7.1f} ms (target p95 <= {TARGETS[kind]:.0f} ms: "
                  f"{'met' if figures['met'] else 'NOT met'}){cpu}", file=sys.stderr)
            print(f"{'':10s} slowest 1 %, mean ms: " + ", ".join(f"{k} {v}" for k, v in figures["slowest_1pct"].items()),
                  file=sys.stderr)
            print(f"{'':10s} p95 of each part, ms: " + ", ".join(f"{k} {v}" for k, v in figures["parts_p95"].items()),
                  file=sys.stderr)
        if app is not None:
            app.state.repo.close()
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
