"""Type-ahead over an ICD-10-sized code system: p50/p95 of ValueSet/$expand with a filter.

    .venv/bin/python bench/terminology.py [--concepts 20000] [--queries 500]

Builds a synthetic 20,000-concept code system (Norwegian-looking words, ICD-style codes in
a two-level hierarchy), expands its implicit value set once (the index is built then), and
times `expand(..., filter=prefix, count=20)` for prefixes of 1 to 6 letters as a user types
them. Target (issue 4): p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from ehelse.terminology.expand import expand
from ehelse.terminology.registry import Terminology, base_terminology
import ehelse.terminology.expand as expand_module

WORDS = ("hjerte svikt diabetes mellitus type kronisk akutt lunge betennelse nyre sykdom brudd lårhals "
         "smerte rygg skulder kne hofte artrose øre øye hud eksem psoriasis angst depresjon søvn forstyrrelse "
         "infeksjon virus bakterie uspesifisert annen med uten komplikasjoner blødning infarkt hjerne kar "
         "åreknuter væske ødem mage tarm lever galle bukspytt kjertel skjoldbrusk stoffskifte blod anemi").split()


def synthetic_codesystem(n: int, rng: random.Random) -> dict:
    concepts = []
    parents = []
    for i in range(n):
        letter = chr(ord("A") + (i // 1000) % 26)
        if i % 10 == 0:
            code = f"{letter}{(i // 10) % 100:02d}{i // 2600}"
            parents.append(code)
            prop = []
        else:
            code = f"{parents[-1]}{i % 10}"
            prop = [{"code": "parent", "valueCode": parents[-1]}]
        display = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize()
        concepts.append({"code": code, "display": display, **({"property": prop} if prop else {})})
    return {"resourceType": "CodeSystem", "url": "http://example.org/bench-icd", "status": "active",
            "content": "complete", "concept": concepts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(1)
    terminology = Terminology([synthetic_codesystem(args.concepts, rng)], parent=base_terminology())
    expand_module.terminology_for = lambda repo: terminology  # bench the engine, not the repository
    url = "http://example.org/bench-icd?fhir_vs"
    started = time.perf_counter()
    expand(url, filter="a", count=20)
    print(f"first expansion + index build: {(time.perf_counter() - started) * 1000:.0f} ms")
    timings = []
    for _ in range(args.queries):
        word = rng.choice(WORDS)
        typed = word[: rng.randint(1, min(6, len(word)))]
        if rng.random() < 0.3:
            typed = rng.choice(WORDS)[:3] + " " + typed
        t0 = time.perf_counter()
        result = expand(url, filter=typed, count=20)
        timings.append((time.perf_counter() - t0) * 1000)
        assert result["expansion"]["total"] >= 0
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"type-ahead over {args.concepts} concepts, {args.queries} queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
          f"max {timings[-1]:.2f} ms")


if __name__ == "__main__":
    main()
