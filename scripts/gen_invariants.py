"""Generate src/ehelse/fhir/definitions/invariants.json.gz: the core FHIRPath invariants and
where they sit (conformance-rules.html#constraints, R4 4.0.1).

Source: hl7.fhir.r4.core-4.0.1.tgz (HL7 FHIR R4 4.0.1, CC0), read in place. From the
snapshot of every resource and complex data type StructureDefinition (specialisations, plus
the constrained quantity types Age, Count, Distance, Duration that elements name as types):

- "constraints": [[key, severity, human text, FHIRPath expression], ...], each distinct row
  once (dom-2 recurs in every resource's snapshot; a few keys, e.g. inv-1, carry two texts);
- "types": type -> {"at": {element path: [row numbers]}, "children": {element path: {json key:
  [child element path, kind]}}}. kind says how the walk continues at that child: "" a
  backbone element (same type, deeper path), a data type name (start over at that type),
  "Resource" (a contained/inline resource: start over at its resourceType), "-" a
  primitive (constraints there, nothing below). Choice elements appear once per JSON form
  (valueQuantity, valueString, ...); contentReference elements point at their target path;
- "choices": the base names of all choice elements (`value` of value[x]), which the FHIRPath
  compiler needs to find `valueQuantity` when an expression says `value`.

ele-1 and ext-1 are left out: the structural validator checks them directly.

Usage: python scripts/gen_invariants.py [path/to/hl7.fhir.r4.core-4.0.1.tgz]
"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = ROOT.parent / "shared" / "fhir" / "hl7.fhir.r4.core-4.0.1.tgz"
OUT = ROOT / "src" / "ehelse" / "fhir" / "definitions" / "invariants.json.gz"

SKIPPED = {"ele-1", "ext-1"}
CONSTRAINED_TYPES = {"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
FHIRPATH_SYSTEM = "http://hl7.org/fhirpath/System."


def wanted(sd: dict) -> bool:
    if sd.get("kind") not in ("resource", "complex-type"):
        return False
    if sd.get("derivation") == "specialization":
        return True
    return sd["id"] in CONSTRAINED_TYPES


def type_name(code: str) -> str:
    # primitive value elements carry FHIRPath system types (e.g. System.String)
    return code[len(FHIRPATH_SYSTEM):] if code.startswith(FHIRPATH_SYSTEM) else code


def build(package: Path) -> dict:
    sds: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    with tarfile.open(package) as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if name.startswith("StructureDefinition-") and name.endswith(".json"):
                sd = json.load(tar.extractfile(member))
                kinds[sd["id"]] = sd.get("kind", "")
                if wanted(sd):
                    sds[sd["id"]] = sd
    rows: dict[tuple[str, ...], int] = {}
    types: dict[str, dict] = {}
    for type_id, sd in sorted(sds.items()):
        at: dict[str, list[int]] = {}
        children: dict[str, dict[str, list[str]]] = {}
        root = sd["snapshot"]["element"][0]["path"]
        for element in sd["snapshot"]["element"]:
            # Paths in the data use the type's own name (Age, not Quantity) as their root.
            path = type_id + element["path"][len(root):]
            if ":" in element.get("id", ""):  # slices (in constrained types) add no new places
                continue
            for constraint in element.get("constraint", []):
                key = constraint["key"]
                if key in SKIPPED or "expression" not in constraint:
                    continue
                row = (key, constraint["severity"], constraint.get("human", ""), constraint["expression"])
                at.setdefault(path, []).append(rows.setdefault(row, len(rows)))
            if path == type_id:
                continue
            parent, _, name = path.rpartition(".")
            slot = children.setdefault(parent, {})
            if "contentReference" in element:  # e.g. Questionnaire.item.item -> #Questionnaire.item
                target = type_id + element["contentReference"][1:][len(root):]
                slot[name] = [target, ""]
                continue
            codes = [type_name(t["code"]) for t in element.get("type", [])]
            for code in codes:
                if code in ("Element", "BackboneElement"):
                    kind = ""
                elif code == "Resource" or kinds.get(code) == "resource":
                    kind = "Resource"
                elif kinds.get(code) == "complex-type":
                    kind = code
                else:
                    kind = "-"
                if name.endswith("[x]"):
                    key = name[:-3] + code[0].upper() + code[1:]
                    slot[key] = [path, kind]
                else:
                    slot[name] = [path, kind]
        types[type_id] = {"at": at, "children": children}
    choices = sorted({p.rsplit(".", 1)[1][:-3] for t in types.values() for slot in t["children"].values()
                      for p, _ in slot.values() if p.endswith("[x]")})
    return {"source": "hl7.fhir.r4.core 4.0.1 (CC0)", "skipped": sorted(SKIPPED), "choices": choices,
            "constraints": [list(row) for row in rows], "types": types}


def main(package: Path) -> None:
    data = build(package)
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:  # mtime=0: byte-identical reruns
        fh.write(raw)
    print(f"{len(data['constraints'])} constraints on {len(data['types'])} types -> {OUT} "
          f"({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PACKAGE)
