"""One CodeSystem, indexed: its concepts by code, in order, and their hierarchy.

http://hl7.org/fhir/R4/codesystem.html#hierarchy: a hierarchy is written either by nesting
(`concept.concept`) or with the `parent`/`child` properties (and `subsumedBy` in some HL7
systems); we read all three, so a large flat file with `parent` properties (what
`ehelse terminology load` writes) and the nested R4 core systems behave the same. Ancestors and
descendants come from the parent links; a concept may have several parents (a poly-hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

_PARENT_PROPERTIES = ("parent", "subsumedBy")


@dataclass(slots=True)
class Concept:
    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)  # as in the resource, minus hierarchy
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    def property_values(self, code: str) -> list[Any]:
        return [_value(p) for p in self.properties if p.get("code") == code]

    @property
    def abstract(self) -> bool:
        """notSelectable / abstract: a grouper, not for use in data (still in expansions)."""
        return any(v is True for name in ("notSelectable", "abstract") for v in self.property_values(name))

    @property
    def inactive(self) -> bool:
        return any(v in ("retired", "inactive") for v in self.property_values("status")) or \
            any(v is True for v in self.property_values("inactive"))

    def display_for(self, language: str | None) -> str | None:
        """The display in `language` (a designation whose language matches, `nb` matches
        `nb-NO`), else the concept's own display."""
        if language:
            wanted = language.lower().split("-")[0]
            for designation in self.designations:
                lang = str(designation.get("language") or "").lower()
                if lang == language.lower() or lang.split("-")[0] == wanted:
                    return designation.get("value")
        return self.display


def _value(prop: dict[str, Any]) -> Any:
    for key, value in prop.items():
        if key.startswith("value"):
            return value
    return None


class CodeSystemIndex:
    """The concepts of one CodeSystem resource, by code and in document order."""

    def __init__(self, resource: dict[str, Any]):
        self.resource = resource
        self.url: str = resource.get("url") or ""
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("title") or resource.get("name") or self.url
        self.content: str = resource.get("content") or "complete"
        self.case_sensitive: bool = resource.get("caseSensitive", True) is not False
        self.concepts: dict[str, Concept] = {}
        self._lower: dict[str, str] | None = None
        self._add(resource.get("concept") or [], None)
        self._link()

    def _add(self, concepts: list[dict[str, Any]], parent: str | None) -> None:
        for raw in concepts:
            code = raw.get("code")
            if not isinstance(code, str):
                continue
            properties, parents, children = [], [], []
            for prop in raw.get("property") or []:
                if prop.get("code") in _PARENT_PROPERTIES:
                    parents.append(str(_value(prop)))
                elif prop.get("code") == "child":
                    children.append(str(_value(prop)))
                else:
                    properties.append(prop)
            if parent is not None:
                parents.insert(0, parent)
            concept = Concept(code, raw.get("display"), raw.get("definition"), list(raw.get("designation") or []),
                              properties, parents, children)
            self.concepts.setdefault(code, concept)
            self._add(raw.get("concept") or [], code)

    def _link(self) -> None:
        """Make parent and child links agree both ways, whichever way the source wrote them."""
        for concept in self.concepts.values():
            for child in concept.children:
                if child in self.concepts and concept.code not in self.concepts[child].parents:
                    self.concepts[child].parents.append(concept.code)
        for concept in self.concepts.values():
            concept.parents = [p for p in dict.fromkeys(concept.parents) if p in self.concepts]
            concept.children = []
        for concept in self.concepts.values():
            for parent in concept.parents:
                self.concepts[parent].children.append(concept.code)

    def __len__(self) -> int:
        return len(self.concepts)

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def get(self, code: str) -> Concept | None:
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            if self._lower is None:
                self._lower = {c.lower(): c for c in self.concepts}
            real = self._lower.get(code.lower())
            found = self.concepts.get(real) if real else None
        return found

    def ancestors(self, code: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.concepts[code].parents) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.concepts[current].parents)
        return seen

    def descendants(self, code: str) -> list[str]:
        """Codes below `code` (not itself), in document order."""
        seen: set[str] = set()
        stack = list(self.concepts[code].children) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.concepts[current].children)
        return [c for c in self.concepts if c in seen]

    def subsumes(self, a: str, b: str) -> bool:
        """True when a is an ancestor of b (strictly)."""
        return a in self.ancestors(b)
