"""Same issues before and after a validator change: a corpus, validated by two trees, compared.

    # once, with the old tree (its tables choose where the mutations go):
    PYTHONPATH=/tmp/val-old/src:/tmp/val-old/tests/fhir/validation \
        python scripts/compare_validation.py corpus /tmp/corpus.pickle
    # with each tree:
    PYTHONPATH=/tmp/val-old/src python scripts/compare_validation.py dump /tmp/corpus.pickle /tmp/old.jsonl
    PYTHONPATH=src python scripts/compare_validation.py dump /tmp/corpus.pickle /tmp/new.jsonl
    python scripts/compare_validation.py diff /tmp/old.jsonl /tmp/new.jsonl

The corpus: the 705 official R4 examples, the resources of every Synthea bundle in
../shared/data/synthea-r4-dev, a seeded Norwegian population (ehelse.nobasis.seed, with
no-basis profiles), each of them with one mutation of every class of
tests/fhir/validation/validation_mutations.py, and seeded random mutations (a value replaced by
one of another JSON type or a malformed one, removed, wrapped in an array, unwrapped, an
unknown or second choice key added), and variants of the first extensions of each (value
removed, a second value, nested extensions added, url changed, nested items doubled, removed
or renamed, value of another type). Some Observations are also validated against the core
vital-signs profile by argument. `dump` validates the corpus twice in order (the second pass
meets the caches of known-valid values filled by the first) and writes every issue's severity,
code, expression and message, or the exception raised.
"""

from __future__ import annotations

import copy
import json
import pickle
import random
import sys
import tarfile
from datetime import date
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
RANDOM_MUTATIONS = 3  # per resource
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


def _base_resources() -> list[tuple[str, Any]]:
    from ehelse.fhir import jsoncodec

    out = []
    with tarfile.open(SHARED / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and member.name.endswith(".json"):
                out.append((member.name.rsplit("/", 1)[-1],
                            jsoncodec.loads(tar.extractfile(member).read(), max_depth=10_000)))
    for path in sorted((SHARED / "data" / "synthea-r4-dev").glob("*.json")):
        bundle = jsoncodec.loads(path.read_bytes(), max_depth=10_000)
        for index, entry in enumerate(bundle.get("entry", ())):
            if "resource" in entry:
                out.append((f"{path.name}#{index}", entry["resource"]))
    from ehelse.nobasis.seed import generate

    count = 0
    for chunk, _ in generate(40, 1, date(2026, 1, 15)):
        for resource in chunk:
            out.append((f"seed#{count}", jsoncodec.loads(jsoncodec.dumps(resource))))
            count += 1
    return out


_ODD_VALUES = [None, "", " x", "x  y", 0, -1, 2**31, 1.5, True, False, [], {}, [None], ["x"], {"x": 1},
               {"extension": [{"url": "http://x"}]}, "2020-02-30", "2019-02-29T10:00:00Z",
               "2020-01-01T10:00:00", "urn:uuid:XYZ", "Patient/", "#missing", "not a reference",
               "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]


def _positions(value: Any, out: list) -> None:
    if type(value) is dict:
        for key, item in value.items():
            out.append((value, key))
            _positions(item, out)
    elif type(value) is list:
        for index, item in enumerate(value):
            out.append((value, index))
            _positions(item, out)


def _random_mutation(resource: dict, rng: random.Random) -> dict | None:
    resource = copy.deepcopy(resource)
    positions: list = []
    _positions(resource, positions)
    positions = [(c, k) for c, k in positions if not (c is resource and k == "resourceType")]
    if not positions:
        return None
    container, key = rng.choice(positions)
    action = rng.randrange(7)
    if action == 0:
        del container[key]
    elif action == 1 or action == 2:
        container[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
    elif action == 3:
        container[key] = [container[key]]
    elif action == 4:
        value = container[key]
        if type(value) is list and value:
            container[key] = value[0]
        elif type(value) is dict and value:
            container[key] = next(iter(value.values()))
        else:
            container[key] = "x"
    elif action == 5 and type(container) is dict:
        container["_" + str(key).lstrip("_")] = copy.deepcopy(rng.choice(_ODD_VALUES[:16]))
    elif type(container) is dict:
        name = str(key)
        for form in ("String", "Quantity", "CodeableConcept", "Boolean", "DateTime"):
            if name.endswith(form):
                container[name[: -len(form)] + ("Integer" if form == "String" else "String")] = "x"
                break
        else:
            container["madeUp" + name[:1].upper() + name[1:]] = 1
    else:
        container.append(copy.deepcopy(container[key]))
    return resource


def _extensions(value: Any, out: list) -> None:
    """Every extension object (an item of an `extension` array) below `value`."""
    if type(value) is dict:
        for key, item in value.items():
            if key in ("extension", "modifierExtension") and type(item) is list:
                out.extend(x for x in item if type(x) is dict)
            _extensions(item, out)
    elif type(value) is list:
        for item in value:
            _extensions(item, out)


def _extension_mutations(resource: dict) -> list[dict]:
    """Variants breaking (or not) the extensions of a resource, which the profile pass checks
    against their definitions: the first three extensions, each changed in eight ways."""
    variants = []
    found: list = []
    _extensions(resource, found)
    for number in range(min(3, len(found))):
        for action in range(8):
            copy_ = copy.deepcopy(resource)
            mine: list = []
            _extensions(copy_, mine)
            ext = mine[number]
            values = [k for k in ext if k.startswith("value")]
            inner = ext.get("extension")
            if action == 0:
                for key in values:
                    del ext[key]
            elif action == 1:
                ext["valueString" if "valueString" not in ext else "valueBoolean"] = "x"
            elif action == 2:
                ext["extension"] = [{"url": "latitude", "valueDecimal": 1.5}]
            elif action == 3 and type(ext.get("url")) is str:
                ext["url"] = ext["url"] + "x"
            elif action == 4 and type(inner) is list and inner:
                inner.append(copy.deepcopy(inner[0]))
            elif action == 5 and type(inner) is list and inner:
                del inner[0]
            elif action == 6 and type(inner) is list and inner and type(inner[0]) is dict:
                inner[0]["url"] = "other"
            elif action == 7 and values:
                ext["valueCode" if values[0] != "valueCode" else "valueString"] = ext.pop(values[0])
            else:
                continue
            variants.append(copy_)
    return variants


def build_corpus(out: Path) -> None:
    from validation_mutations import MUTATIONS, mutate

    rng = random.Random(20261127)
    corpus: list[tuple[str, Any, list[str] | None]] = []
    for name, resource in _base_resources():
        corpus.append((name, resource, None))
        if type(resource) is not dict or "resourceType" not in resource:
            continue
        if resource.get("resourceType") == "Observation" and len(corpus) % 3 == 0:
            corpus.append((f"{name} vitalsigns", resource, [VITAL_SIGNS]))
        for kind in MUTATIONS:
            try:
                result = mutate(resource, kind)
            except Exception:  # noqa: BLE001 - a mutator that cannot handle this resource
                result = None
            if result is not None:
                corpus.append((f"{name} {kind}", result[0], None))
        for number, variant in enumerate(_extension_mutations(resource)):
            corpus.append((f"{name} extension {number}", variant, None))
        for number in range(RANDOM_MUTATIONS):
            mutated = _random_mutation(resource, rng)
            if mutated is not None:
                corpus.append((f"{name} random {number}", mutated, None))
    with out.open("wb") as f:
        pickle.dump(corpus, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"{len(corpus)} resources in {out}")


def dump(corpus_path: Path, out: Path) -> None:
    from ehelse.fhir.validation import validate
    from ehelse.fhir.validation.primitives import clear_known

    with corpus_path.open("rb") as f:
        corpus = pickle.load(f)
    clear_known()
    with out.open("w") as f:
        for round_ in (1, 2):
            for name, resource, profiles in corpus:
                try:
                    issues = [[i.severity, i.code, i.expression, i.diagnostics]
                              for i in validate(copy.deepcopy(resource), profiles=profiles)]
                except Exception as exc:  # noqa: BLE001 - recorded: a crash must also be the same
                    issues = [["exception", type(exc).__name__, None, str(exc)]]
                f.write(json.dumps([round_, name, issues]) + "\n")
    print(f"{2 * len(corpus)} validations written to {out}")


def diff(old: Path, new: Path) -> int:
    differences = compared = 0
    with old.open() as a, new.open() as b:
        for line_a, line_b in zip(a, b, strict=True):
            compared += 1
            if line_a != line_b:
                differences += 1
                if differences <= 10:
                    print("old:", line_a.strip()[:2000])
                    print("new:", line_b.strip()[:2000])
    print(f"{compared} validations compared, {differences} differ")
    return 1 if differences else 0


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "corpus":
        build_corpus(Path(args[0]))
    elif command == "dump":
        dump(Path(args[0]), Path(args[1]))
    elif command == "diff":
        return diff(Path(args[0]), Path(args[1]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
