"""Read by id over HTTP per actor: admin, citizen and clinician (issues 2 and 6).

The read benchmark (read_bench.py) reads with an admin token only. Here the same server
(`ehelse serve`, 32 keep-alive connections) serves reads by id
(http://hl7.org/fhir/R4/http.html#read) with three bearer tokens on a seeded database
(`ehelse seed`, the demo cast of docs/demo-cast.md among the people):

- citizen: `ehelse token --as patient:<Kari's fnr>` reading Observations of her own record;
- clinician: `--as practitioner:<the GP's hpr> --org <orgnr> --purpose TREAT` reading
  Observations of Astrid, a patient on the GP's list (a care relationship);
- admin: the same two path lists, so each actor has its own admin figure to divide by.

Every read with a token is audited (durable before the answer), admins included, so the
ratio to admin is the price of the access rules alone (target >= 0.7), and the ratio to the
bare endpoint (/healthz on the same server) is issue 2's (target >= 0.5). Each pair of actor
and admin runs back to back on one server, so machine noise hits both alike.

    .venv/bin/python -m bench.read_actors [--backends sqlite,postgresql] [--seconds 10]
"""

from __future__ import annotations

import argparse
from datetime import date

import orjson

from bench import loadgen, wrk
from bench.cpu import CpuMeter, per_cpu_second
from bench.databases import fresh_database
from bench.read_bench import TARGET_RATIO, get_load
from bench.server import admin_token, ehelse_server, run_cli, settle_audit, upgrade_database
from ehelse.nobasis.seed import DEMO_CAST

TARGET_ADMIN_RATIO = 0.7  # issue 6: an actor's reads against the same reads by an admin
READS_PER_PATIENT = 50  # Observation ids cycled through per actor


def token(database_url: str, *args: str) -> str:
    lines = [line.strip() for line in run_cli("token", *args, "--database", database_url).splitlines()
             if line.strip()]
    if not lines:
        raise RuntimeError(f"ehelse token {' '.join(args)} printed nothing")
    return lines[-1]


def actor_tokens(database_url: str) -> dict[str, str]:
    kari, gp = DEMO_CAST["kari"], DEMO_CAST["gp"]
    return {"admin": admin_token(database_url),
            "citizen": token(database_url, "--as", f"patient:{kari.fnr}"),
            "clinician": token(database_url, "--as", f"practitioner:{gp.hpr}", "--org", gp.orgnr,
                               "--purpose", "TREAT")}


async def observation_paths(base_url: str, admin: str, patient_id: str) -> list[str]:
    """Read paths of up to READS_PER_PATIENT Observations in one patient's record."""
    connection = loadgen.Connection(base_url, default_headers={"Authorization": f"Bearer {admin}"})
    try:
        response = await connection.request(
            "GET", f"/fhir/Observation?subject=Patient/{patient_id}&_count={READS_PER_PATIENT}&_elements=id")
    finally:
        await connection.close()
    if response.status != 200:
        raise RuntimeError(f"finding {patient_id}'s Observations gave {response.status}: {response.body[:300]!r}")
    ids = [e["resource"]["id"] for e in orjson.loads(response.body).get("entry", [])]
    if not ids:
        raise RuntimeError(f"no Observations in {patient_id}'s record: was the database seeded?")
    return [f"/fhir/Observation/{id}" for id in ids]


def measured(base_url: str, server, paths: list[str], *, token: str, connections: int, seconds: float,
             postgres: bool, admin: str) -> dict:
    with CpuMeter(server.process_group) as meter:
        figures = get_load(base_url, paths, token=token, connections=connections, seconds=seconds)
        settle_audit(base_url, admin)  # the records' move into the table counts too
    figures["cpu"] = meter.result
    figures["requests_per_cpu_s"] = per_cpu_second(figures["requests"], meter.result, postgres=postgres)
    if figures.get("errors"):
        raise RuntimeError(f"{figures['errors']} failed reads (a token the rules refuse?)")
    return figures


def bench_backend(backend: str, *, workers: int, connections: int, seconds: float, patients: int) -> dict:
    postgres = backend == "postgresql"
    with fresh_database(backend, label="read-actors") as url:
        upgrade_database(url)
        run_cli("seed", "--patients", str(patients), "--validate-every", "0",
                "--reference-date", date.today().isoformat(), "--database", url, timeout=900)
        tokens = actor_tokens(url)
        with ehelse_server(url, workers=workers) as server:
            base = server.base_url
            paths = {"citizen": loadgen.run(observation_paths(base, tokens["admin"], "demo-kari")),
                     "clinician": loadgen.run(observation_paths(base, tokens["admin"], "demo-astrid"))}
            for actor, cycle in paths.items():  # warm up: caches, connections, the care set
                get_load(base, cycle, token=tokens[actor], connections=connections, seconds=1)
            bare = measured(base, server, ["/healthz"], token=tokens["admin"], connections=connections,
                            admin=tokens["admin"], seconds=seconds, postgres=postgres)
            out: dict = {"workers": workers, "patients": patients, "bare": bare, "actors": {}}
            for actor, cycle in paths.items():
                mine = measured(base, server, cycle, token=tokens[actor], connections=connections,
                                admin=tokens["admin"], seconds=seconds, postgres=postgres)
                admin = measured(base, server, cycle, token=tokens["admin"], connections=connections,
                                 admin=tokens["admin"], seconds=seconds, postgres=postgres)
                out["actors"][actor] = {
                    "reads": len(cycle), "actor": mine, "admin": admin,
                    "ratio_to_admin": round(mine["requests_per_s"] / admin["requests_per_s"], 3),
                    "ratio_to_bare": round(mine["requests_per_s"] / bare["requests_per_s"], 3),
                    "admin_ratio_to_bare": round(admin["requests_per_s"] / bare["requests_per_s"], 3)}
    return out


def run(backends: list[str], *, workers: list[int], connections: int = 32, seconds: float = 10.0,
        patients: int = 30) -> dict:
    result: dict = {"connections": connections, "seconds": seconds,
                    "load_generator": "wrk" if wrk.wrk_path() else "python-asyncio",
                    "target_ratio_to_bare": TARGET_RATIO, "target_ratio_to_admin": TARGET_ADMIN_RATIO, "runs": {}}
    for backend in backends:
        for count in workers:
            result["runs"][f"{backend}/workers={count}"] = bench_backend(
                backend, workers=count, connections=connections, seconds=seconds, patients=patients)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--output")
    args = parser.parse_args()
    result = run(args.backends.split(","), workers=[int(w) for w in args.workers.split(",")],
                 seconds=args.seconds, patients=args.patients)
    print(f"{'run':<22} {'actor':<10} {'req/s':>8} {'admin':>8} {'bare':>8} {'/admin':>7} {'/bare':>6}")
    for name, figures in result["runs"].items():
        for actor, row in figures["actors"].items():
            print(f"{name:<22} {actor:<10} {row['actor']['requests_per_s']:>8} {row['admin']['requests_per_s']:>8}"
                  f" {figures['bare']['requests_per_s']:>8} {row['ratio_to_admin']:>7} {row['ratio_to_bare']:>6}")
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
