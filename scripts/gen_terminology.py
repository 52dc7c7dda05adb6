"""Generate src/ehelse/terminology/data/r4core.json.gz from the official R4 core package.

    .venv/bin/python scripts/gen_terminology.py [../shared/fhir/hl7.fhir.r4.core-4.0.1.tgz]

Source: hl7.fhir.r4.core 4.0.1 (CC0). Keeps the facts the terminology operations need and
leaves out the prose: CodeSystems (url, version, names, content, hierarchy, concepts with
code, display, designations and the hierarchy/status properties; no definitions), ValueSets
(url, version, compose) and ConceptMaps (groups and elements). The output is deterministic
(sorted by file name), so regenerating gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = ROOT.parent / "shared" / "fhir" / "hl7.fhir.r4.core-4.0.1.tgz"
OUTPUT = ROOT / "src" / "ehelse" / "terminology" / "data" / "r4core.json.gz"

HEADER = ("resourceType", "url", "identifier", "version", "name", "title", "status")
CODESYSTEM_KEYS = HEADER + ("content", "caseSensitive", "hierarchyMeaning", "valueSet", "concept")
VALUESET_KEYS = HEADER + ("compose",)
CONCEPTMAP_KEYS = HEADER + ("sourceUri", "sourceCanonical", "targetUri", "targetCanonical", "group")
KEPT_PROPERTIES = {"status", "notSelectable", "abstract", "inactive", "deprecated", "parent", "child", "subsumedBy"}


def _concepts(concepts: list[dict]) -> list[dict]:
    out = []
    for concept in concepts:
        slim = {"code": concept["code"]}
        if concept.get("display"):
            slim["display"] = concept["display"]
        if concept.get("designation"):
            slim["designation"] = [{k: d[k] for k in ("language", "use", "value") if k in d}
                                   for d in concept["designation"]]
        props = [p for p in concept.get("property") or [] if p.get("code") in KEPT_PROPERTIES]
        if props:
            slim["property"] = props
        if concept.get("concept"):
            slim["concept"] = _concepts(concept["concept"])
        out.append(slim)
    return out


def _conceptmap_groups(groups: list[dict]) -> list[dict]:
    out = []
    for group in groups:
        slim = {k: group[k] for k in ("source", "sourceVersion", "target", "targetVersion", "unmapped") if k in group}
        slim["element"] = [
            {**{k: e[k] for k in ("code", "display") if k in e},
             "target": [{k: t[k] for k in ("code", "display", "equivalence") if k in t} for t in e.get("target", [])]}
            for e in group.get("element", [])
        ]
        out.append(slim)
    return out


def slim(resource: dict) -> dict | None:
    kind = resource.get("resourceType")
    if kind == "CodeSystem":
        out = {k: resource[k] for k in CODESYSTEM_KEYS if k in resource}
        if "concept" in out:
            out["concept"] = _concepts(out["concept"])
        return out
    if kind == "ValueSet":
        return {k: resource[k] for k in VALUESET_KEYS if k in resource}
    if kind == "ConceptMap":
        out = {k: resource[k] for k in CONCEPTMAP_KEYS if k in resource}
        out["group"] = _conceptmap_groups(out.get("group", []))
        return out
    return None


def main(package: Path) -> None:
    resources = []
    with tarfile.open(package) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members:
            name = member.name.rsplit("/", 1)[-1]
            if not member.name.startswith("package/") or "/" in member.name[len("package/"):]:
                continue
            if not name.startswith(("CodeSystem-", "ValueSet-", "ConceptMap-")) or not name.endswith(".json"):
                continue
            resource = slim(json.load(tar.extractfile(member)))
            if resource is not None:
                resources.append(resource)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(resources, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()
    with open(OUTPUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(data)
    counts = {k: sum(1 for r in resources if r["resourceType"] == k) for k in ("CodeSystem", "ValueSet", "ConceptMap")}
    print(f"{OUTPUT.relative_to(ROOT)}: {counts}, {OUTPUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PACKAGE)
