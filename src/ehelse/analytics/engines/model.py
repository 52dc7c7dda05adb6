"""What the SQL compilers need to know of R4: per element, whether it repeats and its type.

From the committed R4 core definitions (ehelse/fhir/definitions/structures.json.gz, CC0).
Knowing `max` lets a member path on a non-repeating element stay a single JSON value
(`r->'subject'`) instead of a list, which is most of the speed of the compiled SQL.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).resolve().parents[2] / "fhir" / "definitions" / "structures.json.gz"
ABSTRACT_PARENTS = {"BackboneElement", "Element"}


@dataclass(frozen=True, slots=True)
class Element:
    repeats: bool
    types: tuple[str, ...]  # FHIR type codes; several for a choice element (value[x])
    base: str  # where members of this element are looked up: a type name or an element path
    choice: bool = False


@lru_cache(maxsize=1)
def _elements() -> dict[str, dict]:
    with gzip.open(_DATA) as f:
        types = json.load(f)["types"]
    index: dict[str, dict] = {}
    for name, structure in types.items():
        for element in structure.get("elements", []):
            if "id" in element and ":" in element["id"]:
                continue  # slices: same path as their element
            index[element["path"]] = element
    return index


@lru_cache(maxsize=8192)
def member(base: str | None, name: str) -> Element | None:
    """The element `name` below `base` (a type name like 'HumanName' or an element path like
    'QuestionnaireResponse.item'), or None when the model does not know it."""
    if base is None:
        return None
    index = _elements()
    path = f"{base}.{name}"
    element = index.get(path)
    choice = False
    if element is None:
        element = index.get(path + "[x]")
        choice = element is not None
    if element is None:
        return None
    repeats = element.get("max", "1") != "1" and element.get("max") != "0"
    types = tuple(t[0] for t in element.get("types", ()))
    if "ref" in element:
        next_base = element["ref"]
    elif len(types) == 1 and types[0] not in ABSTRACT_PARENTS:
        next_base = types[0]
    else:
        next_base = path
    return Element(repeats, types, next_base, choice)


def choice_types(base: str | None, name: str) -> tuple[str, ...]:
    element = member(base, name)
    return element.types if element is not None and element.choice else ()
