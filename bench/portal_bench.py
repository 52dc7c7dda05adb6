"""Citizen portal server time (issue 7): p50/p95 of the `Server-Timing: app;dur=` the portal
reports for the overview, record, results and messages pages, with USERS citizens of the demo
cast browsing at once (one thread each, its own logged-in session), on a seeded population.
Target: p95 <= 100 ms per page.

By default the portal is served as in production: `ehelse serve --workers 2` (granian) on a
copy of the seeded database, and the users are HTTP clients in this process
(bench/portal_serve.py). `--in-process` drives the app through Starlette's TestClient instead
(one Python process: the users' threads share its GIL, so the figure grows with the number of
users). Either way the figure is the server's own time for the page (access rules, FHIR
searches through the router, audit records, templates), as a browser's developer tools read
it, without network or client time. The server's CPU per page (served mode) is reported too:
it does not depend on what else the shared machine runs.

The seeded database is shared with bench/search_bench.py: bench/.cache/search-n{N}-s{seed}.sqlite,
made once per N and seed; the run works on a copy.

    .venv/bin/python -m bench.portal_bench [--patients 10000] [--seconds 20] [--users 8] [--workers 2]
    .venv/bin/python -m bench.portal_bench --in-process ...
    .venv/bin/python -m bench.portal_bench --quick        # 30 patients, a few seconds, no cache
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from bench.cpu import CpuMeter
from bench.portal_serve import http_client, serve
from bench.search_bench import RESULTS, sqlite_cache

TARGET_MS = 100.0
PAGES = {"overview": "/innbygger/", "record": "/innbygger/journal", "results": "/innbygger/provesvar",
         "messages": "/innbygger/meldinger"}
# Citizens of the demo cast, some acting for someone else (the switch costs a look-up each page).
USERS = [("kari", None), ("ola", "demo-emma"), ("astrid", None), ("liv", "demo-astrid"), ("per", None),
         ("tor", "demo-knut"), ("knut", None), ("jonas", None), ("sara", None), ("emma", None)]
_TIMING = re.compile(r"app;dur=([0-9.]+)")


def _client(target: Any, key: str, acting_for: str | None) -> Any:
    """A logged-in citizen: `target` is the ASGI app (in process) or the served base URL."""
    from ehelse.nobasis.seed import DEMO_CAST

    if isinstance(target, str):
        client = http_client(target)
    else:
        from starlette.testclient import TestClient

        client = TestClient(target, follow_redirects=False)
    page = client.get("/login/idporten")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/idporten", data={"pid": DEMO_CAST[key].fnr, "csrf_token": token})
    assert answer.status_code in (302, 303), answer.status_code
    if acting_for:
        page = client.get("/innbygger/velg-person")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/innbygger/velg-person", data={"patient": acting_for, "csrf_token": token})
    return client


def _browse(client: Any, until: float, out: dict[str, list[float]], errors: list[str]) -> None:
    while time.perf_counter() < until:
        for name, path in PAGES.items():
            response = client.get(path)
            found = _TIMING.search(response.headers.get("server-timing", ""))
            if response.status_code != 200 or not found:
                errors.append(f"{name}: HTTP {response.status_code}")
                continue
            out[name].append(float(found.group(1)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def run(database: Path, *, users: int, seconds: float, workers: int = 0) -> dict[str, Any]:
    """Browse for `seconds`; `workers` 0: in process, else `ehelse serve --workers N`."""
    if workers:
        with serve(database, workers) as server:
            meter = CpuMeter(server.process_group)
            result = _run(server.base_url, users=users, seconds=seconds, meter=meter)
        requests = sum(p["requests"] for p in result["pages"].values())
        result["cpu"] = meter.result
        # the server's CPU per page while the users browsed: what a page costs the server,
        # whatever else the shared machine does meanwhile
        result["server_cpu_ms_per_page"] = round(meter.result["server_cpu_s"] * 1000 / max(requests, 1), 1)
        return result
    from ehelse.settings import get_settings
    from ehelse.web.app import create_app

    app = create_app(get_settings(database_url=f"sqlite:///{database}", rate_limit=0))
    app.state.repo.upgrade()  # a cached database from before a migration: bring the copy up to date
    return _run(app, users=users, seconds=seconds)


def _run(target: Any, *, users: int, seconds: float, meter: Any = None) -> dict[str, Any]:
    cast = [USERS[i % len(USERS)] for i in range(users)]
    clients = [_client(target, key, acting) for key, acting in cast]
    for client in clients:  # warm: templates, prepared statements, the access caches
        for path in PAGES.values():
            client.get(path)
    samples: list[dict[str, list[float]]] = [{name: [] for name in PAGES} for _ in clients]
    errors: list[str] = []
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=_browse, args=(c, until, s, errors)) for c, s in zip(clients, samples)]
    with meter or nullcontext():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    pages = {}
    for name in PAGES:
        values = [v for s in samples for v in s[name]]
        pages[name] = {"requests": len(values), "p50_ms": round(statistics.median(values), 1) if values else None,
                       "p95_ms": round(percentile(values, 95), 1) if values else None,
                       "max_ms": round(max(values), 1) if values else None}
    return {"users": users, "seconds": seconds, "pages": pages, "errors": errors[:20],
            "target_p95_ms": TARGET_MS,
            "meets_target": all(p["p95_ms"] is not None and p["p95_ms"] <= TARGET_MS for p in pages.values())}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=8, help="concurrent citizens (threads)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (`ehelse serve --workers`)")
    parser.add_argument("--in-process", action="store_true",
                        help="drive the app in this process (TestClient) instead of serving it")
    parser.add_argument("--quick", action="store_true", help="30 patients, 3 seconds, no cache")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    patients, seconds = (30, 3.0) if args.quick else (args.patients, args.seconds)
    with tempfile.TemporaryDirectory(prefix="ehelse-portal-bench-") as tmp:
        started = time.perf_counter()
        path = sqlite_cache(patients, args.seed, args.quick, Path(tmp) if args.quick else None)
        if not args.quick:  # work on a copy: page views write AuditEvents, the cache stays clean
            copy = Path(tmp) / path.name
            shutil.copy(path, copy)
            path = copy
        prepared = time.perf_counter() - started
        workers = 0 if args.in_process else args.workers
        result = run(path, users=args.users, seconds=seconds, workers=workers)
    result.update({"patients": patients, "seed": args.seed, "backend": "sqlite", "prepare_s": round(prepared, 1),
                   "served": f"ehelse serve --workers {workers}" if workers else "in process (TestClient)",
                   "when": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    print(f"citizen portal, {patients} patients, {args.users} users, {seconds:.0f} s, {result['served']} "
          "(server time, Server-Timing app)")
    print(f"{'page':<10} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, figures in result["pages"].items():
        print(f"{name:<10} {figures['requests']:>8} {figures['p50_ms']!s:>8} {figures['p95_ms']!s:>8} {figures['max_ms']!s:>8}")
    print(f"target p95 <= {TARGET_MS:.0f} ms: {'met' if result['meets_target'] else 'NOT met'}")
    if "cpu" in result:
        cpu = result["cpu"]
        print(f"server CPU {result['server_cpu_ms_per_page']} ms per page; CPU shares of the machine: server "
              f"{cpu['server_share']:.0%}, bench (clients) {cpu['bench_share']:.0%}, others {cpu['other_share']:.0%}")
    if result["errors"]:
        print("errors:", *result["errors"], sep="\n  ")
    output = args.output or (None if args.quick else RESULTS / f"portal-{time.strftime('%Y%m%d-%H%M%S')}.json")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result


if __name__ == "__main__":
    main()
