"""Generate the search-parameter registry data from the official FHIR packages.

Sources (CC0): hl7.fhir.r4.core-4.0.1.tgz (HL7 FHIR R4 4.0.1) and hl7.fhir.no.basis-2.2.3.tgz
(HL7 Norway no-basis). Output, committed into the repository:

- src/ehelse/search/data/search_parameters.json.gz: one entry per SearchParameter (facts
  only, no prose): url, code, type, base types, the FHIRPath expression split per base type
  (a union like `Patient.name | Practitioner.name` becomes one expression per type), target
  types, components (composite: the component's parameter url and its relative expression),
  multipleOr/multipleAnd, modifiers, comparators. Resource-level parameters (`_id`,
  `_lastUpdated`, `_tag`, ...) keep base `Resource`/`DomainResource`; the registry applies
  them to every type. Parameters without a base (draft extension parameters that only have
  an xpath) are left out; their count is printed.
- src/ehelse/search/data/compartments.json: the CompartmentDefinitions (Patient, Encounter,
  RelatedPerson, Practitioner, Device): compartment -> resource type -> parameter codes
  (http://hl7.org/fhir/R4/compartmentdefinition.html).

Usage: python scripts/gen_search_params.py [core.tgz [no-basis.tgz]]
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "fhir"
OUT_DIR = ROOT / "src" / "ehelse" / "search" / "data"
# The spec's example SearchParameters are not definitions: `example` duplicates Resource-id,
# `example-reference` would replace Condition-subject (targets Organization only).
SKIPPED_IDS = {"example", "example-reference", "example-extension"}


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on top-level `|` (not inside parentheses or strings)."""
    parts, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(expression):
        if ch == "'" and (i == 0 or expression[i - 1] != "\\"):
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


_FIRST_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def base_of(part: str) -> str | None:
    """The type an expression part starts from: `Patient.name` and `(Observation.value as
    Quantity)` -> the first identifier."""
    match = _FIRST_NAME.search(part)
    return match.group(0) if match else None


def per_base(expression: str | None, bases: list[str]) -> dict[str, str]:
    """Expression per base type. A part naming a type that is not a base (e.g. `Resource.id`
    for base Resource) stays with that base; parts of one base are rejoined with ` | `."""
    if not expression:
        return {}
    out: dict[str, list[str]] = {}
    for part in split_union(expression):
        name = base_of(part)
        if name in bases:
            out.setdefault(name, []).append(part)
        elif len(bases) == 1:
            out.setdefault(bases[0], []).append(part)
        else:
            # Relative or unusual expression on several bases: give it to each.
            for base in bases:
                out.setdefault(base, []).append(part)
    return {base: " | ".join(parts) for base, parts in out.items()}


def entry(sp: dict) -> dict:
    return {
        "url": sp["url"],
        "code": sp["code"],
        "type": sp["type"],
        "base": sp["base"],
        "expression": per_base(sp.get("expression"), sp["base"]),
        "target": sp.get("target", []),
        "component": [{"definition": c["definition"], "expression": c["expression"]}
                      for c in sp.get("component", [])],
        "multipleOr": sp.get("multipleOr", True),
        "multipleAnd": sp.get("multipleAnd", True),
        "modifier": sp.get("modifier", []),
        "comparator": sp.get("comparator", []),
    }


def read_package(path: Path, params: list[dict], compartments: dict, skipped: list[str]) -> None:
    with tarfile.open(path) as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not name.endswith(".json") or "/package/" not in "/" + member.name:
                continue
            if name.startswith("SearchParameter-"):
                sp = json.load(tar.extractfile(member))
                if sp.get("resourceType") != "SearchParameter" or sp.get("id") in SKIPPED_IDS:
                    continue
                if not sp.get("base"):
                    skipped.append(sp["id"])
                    continue
                params.append(entry(sp))
            elif name.startswith("CompartmentDefinition-") and "example" not in name:
                cd = json.load(tar.extractfile(member))
                compartments[cd["code"]] = {r["code"]: r.get("param", []) for r in cd.get("resource", [])
                                            if r.get("param")}


def main(core: Path, nobasis: Path) -> None:
    params: list[dict] = []
    compartments: dict = {}
    skipped: list[str] = []
    read_package(core, params, compartments, skipped)
    read_package(nobasis, params, {}, skipped)
    params.sort(key=lambda p: p["url"])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    source = {"source": [core.name, nobasis.name], "licence": "CC0"}
    data = json.dumps({**source, "parameters": params}, separators=(",", ":"), sort_keys=True)
    # mtime=0: the same input gives the same bytes, so regenerating makes no diff.
    with gzip.GzipFile(OUT_DIR / "search_parameters.json.gz", "wb", mtime=0) as out:
        out.write(data.encode())
    (OUT_DIR / "compartments.json").write_text(
        json.dumps({**source, "compartments": compartments}, indent=1, sort_keys=True) + "\n")
    print(f"{len(params)} search parameters, {len(compartments)} compartments; "
          f"skipped {len(skipped)} without a base: {', '.join(sorted(skipped))}")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    main(args[0] if args else SHARED / "hl7.fhir.r4.core-4.0.1.tgz",
         args[1] if len(args) > 1 else SHARED / "hl7.fhir.no.basis-2.2.3.tgz")
