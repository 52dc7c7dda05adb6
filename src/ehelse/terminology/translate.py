"""ConceptMap/$translate: codes of one system as codes of another.

http://hl7.org/fhir/R4/conceptmap-operation-translate.html. The maps used are the one named by
`url`, else those whose source/target value sets match `source`/`target`, else every map with
a group from `system` (to `target_system`, when given). `reverse` reads the maps backwards
(target to source). `result` is true when at least one match is not `unmatched`/`disjoint`
(conceptmap-equivalence); each match gives the equivalence, the concept and the map's url.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import NotFound
from ehelse.terminology import parameters as P
from ehelse.terminology.registry import Terminology, split_canonical, terminology_for

NO_MATCH = frozenset({"unmatched", "disjoint"})


def _same_system(terminology: Terminology, a: str | None, b: str | None) -> bool:
    """Two system URLs name the same code system (the OID and URI forms of ICPC-2 do)."""
    if not a or not b:
        return False
    if a == b:
        return True
    cs_a, cs_b = terminology.codesystem(a), terminology.codesystem(b)
    return cs_a is not None and cs_a is cs_b


def _maps(terminology: Terminology, url: str | None, source: str | None, target: str | None) -> list[dict]:
    if url:
        found = terminology.conceptmap(url)
        if found is None:
            raise NotFound(f"Concept map {url} is not known to this server")
        return [found]
    maps = terminology.conceptmaps()
    if source:
        maps = [m for m in maps if split_canonical(source)[0] in (m.get("sourceUri"), m.get("sourceCanonical"))]
    if target:
        maps = [m for m in maps if split_canonical(target)[0] in (m.get("targetUri"), m.get("targetCanonical"))]
    return maps


def translate(url: str | None, system: str | None, code: str | None, *, source: str | None = None,
              target: str | None = None, target_system: str | None = None, reverse: bool = False,
              repo: Any = None) -> dict[str, Any]:
    """Parameters with result, message and match parts."""
    terminology = terminology_for(repo)
    code = P.require(code, "code")
    system = P.require(system, "system")
    matches: list[dict[str, Any]] = []
    for conceptmap in _maps(terminology, url, source, target):
        for group in conceptmap.get("group") or []:
            from_system, to_system = (group.get("target"), group.get("source")) if reverse else \
                (group.get("source"), group.get("target"))
            if not _same_system(terminology, from_system, system):
                continue
            if target_system and not _same_system(terminology, to_system, target_system):
                continue
            matches.extend(_group_matches(group, code, reverse, to_system, conceptmap.get("url")))
    ok = any(m["equivalence"] not in NO_MATCH for m in matches)
    message = None if ok else f"No translation found for {system}#{code}"
    items = [P.parameter("result", ok, kind="Boolean"), P.parameter("message", message) if message else None]
    for match in matches:
        parts = [P.parameter("equivalence", match["equivalence"], kind="Code")]
        if match.get("concept"):
            parts.append(P.parameter("concept", match["concept"], kind="Coding"))
        parts.append(P.parameter("source", match["source"], kind="Uri"))
        items.append(P.parameter("match", parts=parts))
    return P.parameters(*items)


def _group_matches(group: dict, code: str, reverse: bool, to_system: str | None, map_url: str | None) -> list[dict]:
    found = []
    for element in group.get("element") or []:
        for target in element.get("target") or [{}]:
            if reverse:
                if target.get("code") != code:
                    continue
                concept = {"system": to_system, "code": element.get("code"), "display": element.get("display")}
            else:
                if element.get("code") != code:
                    continue
                concept = {"system": to_system, "code": target.get("code"), "display": target.get("display")}
            concept = {k: v for k, v in concept.items() if v}
            found.append({"equivalence": target.get("equivalence", "equivalent"),
                          "concept": concept if concept.get("code") else None, "source": map_url})
    if not found and not reverse and group.get("unmapped"):
        unmapped = group["unmapped"]
        if unmapped.get("mode") == "provided":
            found.append({"equivalence": "equal", "concept": {"system": to_system, "code": code}, "source": map_url})
        elif unmapped.get("mode") == "fixed" and unmapped.get("code"):
            found.append({"equivalence": "wider", "source": map_url,
                          "concept": {"system": to_system, "code": unmapped["code"],
                                      **({"display": unmapped["display"]} if unmapped.get("display") else {})}})
    return found
