"""ValueSet expansion: evaluate `compose` into an ordered list of codes.

http://hl7.org/fhir/R4/valueset.html#compositions: each include selects codes from one code
system (all of them, an enumerated list, or those passing every `filter`) and/or from other
value sets (intersected with the system part); excludes remove codes. Filters implemented:
is-a, descendent-of, is-not-a, generalizes, =, in, not-in, regex, exists
(http://hl7.org/fhir/R4/valueset-filter-operator.html) on `concept`/`code` and on concept
properties. A value set that only carries a precomputed `expansion` is used as it is.

An include of a code system we do not hold (SNOMED CT, LOINC, national Volven systems) can
be listed when it enumerates its concepts; otherwise the expansion is *incomplete* and says
which systems are missing (`Expansion.missing`), so $expand can fail cleanly and
$validate-code can say "cannot check" rather than "not a member".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ehelse.terminology.codesystem import CodeSystemIndex
from ehelse.terminology.text import TypeAheadIndex

if TYPE_CHECKING:
    from ehelse.terminology.registry import Terminology


@dataclass(frozen=True, slots=True)
class Entry:
    system: str
    code: str
    display: str | None = None
    version: str | None = None
    abstract: bool = False
    inactive: bool = False


@dataclass(slots=True)
class Expansion:
    """The codes of a value set, in order, with the index for filtering built on demand."""

    url: str
    version: str | None
    entries: list[Entry]
    missing: list[str] = field(default_factory=list)  # code systems we could not expand
    _index: TypeAheadIndex | None = None
    _members: dict[tuple[str, str], Entry] | None = None

    @property
    def complete(self) -> bool:
        return not self.missing

    def search(self, text: str | None) -> list[Entry]:
        if not text or not text.strip():
            return self.entries
        if self._index is None:
            self._index = TypeAheadIndex((e.code, e.display) for e in self.entries)
        return [self.entries[i] for i in self._index.search(text)]

    def member(self, system: str | None, code: str) -> Entry | None:
        if self._members is None:
            self._members = {}
            for entry in self.entries:
                self._members.setdefault((entry.system, entry.code), entry)
                self._members.setdefault(("", entry.code), entry)
        return self._members.get((system or "", code))


class ExpansionError(Exception):
    """The value set cannot be expanded (a cycle, an unknown value set)."""


def expand_valueset(resource: dict[str, Any], terminology: "Terminology", _stack: tuple[str, ...] = ()) -> Expansion:
    url = resource.get("url") or ""
    if url in _stack:
        raise ExpansionError(f"value set {url} includes itself (via {' -> '.join(_stack)})")
    stack = (*_stack, url)
    compose = resource.get("compose")
    if not compose:
        contains = (resource.get("expansion") or {}).get("contains") or []
        return Expansion(url, resource.get("version"), list(_flatten_contains(contains)))
    missing: list[str] = []
    selected: dict[tuple[str, str], Entry] = {}
    for include in compose.get("include") or []:
        for entry in _select(include, terminology, stack, missing):
            selected.setdefault((entry.system, entry.code), entry)
    for exclude in compose.get("exclude") or []:
        for entry in _select(exclude, terminology, stack, []):
            selected.pop((entry.system, entry.code), None)
    if compose.get("inactive") is False:
        selected = {k: e for k, e in selected.items() if not e.inactive}
    return Expansion(url, resource.get("version"), list(selected.values()), sorted(set(missing)))


def _flatten_contains(contains: list[dict[str, Any]]):
    for item in contains:
        if item.get("code"):
            yield Entry(item.get("system") or "", item["code"], item.get("display"), item.get("version"),
                        bool(item.get("abstract")), bool(item.get("inactive")))
        yield from _flatten_contains(item.get("contains") or [])


def _select(include: dict[str, Any], terminology: "Terminology", stack: tuple[str, ...],
            missing: list[str]) -> list[Entry]:
    from_valuesets: list[Expansion] = []
    for canonical in include.get("valueSet") or []:
        resource = terminology.valueset_resource(canonical)
        if resource is None:
            missing.append(canonical)
            continue
        from_valuesets.append(expand_valueset(resource, terminology, stack))
    system = include.get("system")
    if system is None:
        result = from_valuesets[0].entries if from_valuesets else []
        for other in from_valuesets[1:]:
            result = [e for e in result if other.member(e.system, e.code)]
        return result
    codesystem = terminology.codesystem(system, include.get("version"))
    entries = _from_system(include, system, codesystem, missing)
    for other in from_valuesets:
        entries = [e for e in entries if other.member(e.system, e.code)]
    return entries


def _entry(system: str, codesystem: CodeSystemIndex, code: str) -> Entry | None:
    concept = codesystem.get(code)
    if concept is None:
        return None
    return Entry(system, concept.code, concept.display, codesystem.version, concept.abstract, concept.inactive)


def _from_system(include: dict[str, Any], system: str, codesystem: CodeSystemIndex | None,
                 missing: list[str]) -> list[Entry]:
    listed = include.get("concept")
    if listed:
        entries = []
        for item in listed:
            code = item.get("code")
            found = _entry(system, codesystem, code) if codesystem else None
            if found is None and codesystem is not None and codesystem.content == "complete":
                continue  # not in the code system: not in the value set
            display = item.get("display") or (found.display if found else None)
            entries.append(Entry(system, code, display, include.get("version"),
                                 found.abstract if found else False, found.inactive if found else False))
        return entries
    if codesystem is None:
        missing.append(system)
        return []
    if codesystem.content not in ("complete", "fragment", "example"):
        missing.append(system)
    codes: list[str] | None = None
    for flt in include.get("filter") or []:
        chosen = _apply_filter(codesystem, flt)
        if codes is None:
            codes = chosen
        else:
            keep = set(chosen)
            codes = [c for c in codes if c in keep]
    if codes is None:
        codes = list(codesystem.concepts)
    return [e for e in (_entry(system, codesystem, c) for c in codes) if e is not None]


def _apply_filter(cs: CodeSystemIndex, flt: dict[str, Any]) -> list[str]:
    prop, op, value = flt.get("property"), flt.get("op"), str(flt.get("value", ""))
    hierarchy = prop in ("concept", "code")
    if hierarchy and op in ("is-a", "descendent-of"):
        below = cs.descendants(value)
        return ([value] if op == "is-a" and value in cs.concepts else []) + below
    if hierarchy and op == "is-not-a":
        excluded = set(cs.descendants(value)) | {value}
        return [c for c in cs.concepts if c not in excluded]
    if hierarchy and op == "generalizes":
        return [c for c in cs.concepts if c == value or c in cs.ancestors(value)] if value in cs.concepts else []
    if hierarchy and op == "regex":
        pattern = re.compile(value)
        return [c for c in cs.concepts if pattern.fullmatch(c)]
    if hierarchy and op in ("=", "in", "not-in"):
        wanted = {v.strip() for v in value.split(",")} if op != "=" else {value}
        return [c for c in cs.concepts if (c in wanted) != (op == "not-in")]
    if prop in ("parent", "child") and op == "=":
        if prop == "parent":
            return list(cs.concepts[value].children) if value in cs.concepts else []
        return list(cs.concepts[value].parents) if value in cs.concepts else []
    result = []
    for concept in cs:
        values = [str(v) if not isinstance(v, dict) else str(v.get("code")) for v in concept.property_values(prop)]
        if prop == "display":
            values = [concept.display or ""]
        if op == "=" and value in values:
            result.append(concept.code)
        elif op == "in" and set(values) & {v.strip() for v in value.split(",")}:
            result.append(concept.code)
        elif op == "not-in" and not set(values) & {v.strip() for v in value.split(",")}:
            result.append(concept.code)
        elif op == "exists" and bool(values) == (value.lower() == "true"):
            result.append(concept.code)
        elif op == "regex" and any(re.fullmatch(value, v) for v in values):
            result.append(concept.code)
    return result
