"""Validation speed: `.venv/bin/python -m bench.validation [--repeat N] [--synthea-files N]`.

Prints a JSON report: median and p99 microseconds per resource for `validate()` (all passes)
and for the structural pass alone, over the 705 official R4 examples and over the Synthea
resources, per type for Observation, Condition and Patient, and the same figures for
fhir.resources' R4B models (`model_validate`) measured in the same run, with the ratio.

By default each resource is validated once, in corpus order, like a stream of writes: the
validator's caches of known-valid values (codes, systems, dates) are warm only from earlier
resources, as in a server. `--repeat N` takes the median of N runs per resource instead
(steadier on a busy machine, but later runs find their own values cached). The report's
median and p99 are taken across resources. Needs ../shared (examples and Synthea); fhir.resources is a dev dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

from ehelse.fhir import jsoncodec
from ehelse.fhir.validation import validate
from ehelse.fhir.validation.model import model
from ehelse.fhir.validation.primitives import clear_known
from ehelse.fhir.validation.profiles import extension_urls
from ehelse.fhir.validation.structure import Walk

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
TYPES = ("Observation", "Condition", "Patient")


def load_examples() -> list[tuple[Any, Any]]:
    """(parsed with jsoncodec, parsed with plain json) for each official example."""
    out = []
    with tarfile.open(SHARED / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                raw = tar.extractfile(member).read()
                out.append((jsoncodec.loads(raw, max_depth=10_000), json.loads(raw)))
    return out


def load_synthea(files: int) -> list[tuple[Any, Any]]:
    out = []
    for path in sorted((SHARED / "data" / "synthea-r4-dev").glob("*.json"))[:files]:
        raw = path.read_bytes()
        ours, plain = jsoncodec.loads(raw, max_depth=10_000), json.loads(raw)
        for a, b in zip(ours.get("entry", ()), plain.get("entry", ())):
            if "resource" in a:
                out.append((a["resource"], b["resource"]))
    return out


def structure_only(resource: Any) -> None:
    Walk(model(), extension_urls()).resource(resource, None)


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = time.perf_counter


def time_each(resources: list[Any], fn: Callable[[Any], Any], repeat: int) -> list[float]:
    timings = []
    clock = _clock
    for resource in resources:
        runs = []
        for _ in range(repeat):
            start = clock()
            try:
                fn(resource)
            except Exception:  # noqa: BLE001 - a rejecting model still spent the time
                pass
            runs.append(clock() - start)
        timings.append(statistics.median(runs) * 1e6)
    return timings


def summary(timings: list[float]) -> dict[str, float | int]:
    if not timings:
        return {"n": 0}
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"n": len(ordered), "median_us": round(statistics.median(ordered), 1), "p99_us": round(p99, 1)}


def r4b_validator() -> Callable[[dict], Any] | None:
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        return None

    def check(resource: dict) -> Any:
        return get_fhir_model_class(resource["resourceType"]).model_validate(resource)

    return check


def measure(pairs: list[tuple[Any, Any]], repeat: int, r4b: Callable | None) -> dict[str, Any]:
    """Time every resource once per validator (caches cold at the start of each), then
    summarise over all and per type from those same timings."""
    ours = [a for a, _ in pairs]
    types = [a.get("resourceType") for a in ours]
    timings: dict[str, list[float]] = {}
    clear_known()
    timings["validate"] = time_each(ours, validate, repeat)
    clear_known()
    timings["structure_pass"] = time_each(ours, structure_only, repeat)
    rejected: list[bool] = []
    if r4b is not None:
        plain = [b for _, b in pairs]
        for resource in plain:
            try:
                r4b(resource)
                rejected.append(False)
            except Exception:  # noqa: BLE001 - counted, and still timed below
                rejected.append(True)
        timings["fhir.resources_R4B"] = time_each(plain, r4b, repeat)

    def block(type_: str | None) -> dict[str, Any]:
        keep = [i for i, t in enumerate(types) if type_ is None or t == type_]
        result: dict[str, Any] = {name: summary([values[i] for i in keep]) for name, values in timings.items()}
        if r4b is not None:
            result["fhir.resources_R4B"]["rejected"] = sum(rejected[i] for i in keep)
            theirs = result["fhir.resources_R4B"].get("median_us")
            for name, label in (("validate", "speedup_vs_R4B_median"),
                                ("structure_pass", "structure_speedup_vs_R4B_median")):
                mine = result[name].get("median_us")
                if mine and theirs:
                    result[label] = round(theirs / mine, 2)
        return result

    report = {"all": block(None)}
    for type_ in TYPES:
        report[type_] = block(type_)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--synthea-files", type=int, default=22, help="how many Synthea bundles to use")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: elapsed time; cpu: this thread's CPU time (steadier on a busy machine)")
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]
    if not SHARED.is_dir():
        print(json.dumps({"error": f"{SHARED} (reference data) is not present"}))
        return 1
    r4b = r4b_validator()
    examples = load_examples()
    synthea = load_synthea(args.synthea_files)
    # Warm up: tables, value sets and compiled invariants are built on first use, once per
    # process; a server pays that at its first write of a kind, not at every write. (The
    # caches of known-valid values are emptied again before each timed pass.)
    for resource, _ in examples + synthea:
        validate(resource)
    if r4b is not None:
        for _, plain in examples[:50]:
            try:
                r4b(plain)
            except Exception:  # noqa: BLE001
                pass
    report = {
        "python": sys.version.split()[0],
        # a busy machine slows every figure; the ratios, measured in the same run, hold better
        "load_average_1min": round(os.getloadavg()[0], 2),
        "repeat": args.repeat,
        "clock": args.clock,
        "official_examples": measure(examples, args.repeat, r4b),
        "synthea": measure(synthea, args.repeat, r4b),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
