"""Index extraction: a resource -> its rows in the index tables, driven by the registry.

For each resource type the registry's parameters are compiled once (search/paths.py) into
accessors; `index_rows(resource)` runs them and turns the selected values into rows
(search/values.py) for the tables storage/index.py describes. It is the repository's
default indexer, called inside the write's transaction.

Composite parameters (search.html#composite) write their components' rows under
`<code>$<n>` with one `grp` number per element occurrence, so a search for
`code-value-quantity=loinc|8480-6$gt100` matches code and value of the same component.
`_text` indexes the words of the narrative, `_content` the words of every human-readable
string in the resource, each as one text_index row of folded words; the full-text indexes
of migrations 0009 are built over those rows, and the query side stems (search/fulltext.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from ehelse.fhir.definitions import load
from ehelse.search import values
from ehelse.search.paths import Accessor, accessor_for, split_union
from ehelse.search.registry import SearchParameterDef, registry
from ehelse.storage.index import IndexRow

# search parameter type -> (index table, value function)
CONVERT: dict[str, tuple[str, Callable[[Any], list]]] = {
    "token": ("token_index", values.token),
    "string": ("string_index", values.string),
    "date": ("date_index", values.date),
    "number": ("number_index", values.number),
    "quantity": ("quantity_index", values.quantity),
    "reference": ("reference_index", values.reference),
    "uri": ("uri_index", values.uri),
}


@lru_cache(maxsize=1)
def choice_names() -> frozenset[str]:
    """Names of choice elements (`value` for value[x]) anywhere in R4."""
    types = load("structures")["types"]
    return frozenset(e["path"].rsplit(".", 1)[1][:-3] for t in types.values()
                     for e in t["elements"] if e["path"].endswith("[x]"))


@dataclass(frozen=True, slots=True)
class Extractor:
    """One parameter of one type, ready to run."""

    code: str
    type: str
    accessor: Accessor
    compiled: bool  # False: evaluated through fhirpathpy
    components: tuple[tuple[str, str, Accessor, bool], ...] = ()  # (param, type, accessor, compiled)
    needs: tuple[frozenset[str], ...] | None = None  # top-level keys: one of each set must be present


_TOP = re.compile(r"^\(?\s*(?:[A-Z]\w*\.)?(?P<name>[a-z]\w*)(?P<rest>.*)$", re.S)
_TYPED = re.compile(r"^(?:\.as\(|\.ofType\(| as )(?P<type>\w+)")


def _top_keys(expression: str, choices: frozenset[str]) -> frozenset[str] | None:
    """The top-level JSON keys an expression reads (`Observation.code.coding` -> code,
    `(Observation.value as Quantity)` -> valueQuantity, `Observation.value` -> value, which
    stands for any value[x]), or None when that cannot be told from its text."""
    keys = set()
    for part in split_union(expression):
        match = _TOP.match(part.strip())
        if not match:
            return None
        name, typed = match["name"], _TYPED.match(match["rest"])
        if name in choices and typed:
            name += typed["type"][0].upper() + typed["type"][1:]
        keys.add(name)
    return frozenset(keys)


def _needs(param: SearchParameterDef, choices: frozenset[str]) -> tuple[frozenset[str], ...] | None:
    """What must be present at the top level for the parameter to select anything: a key
    of each set (a composite on the resource itself needs every component)."""
    if param.strategy != "composite":
        keys = _top_keys(param.expression, choices)
        return (keys,) if keys is not None else None
    roots = split_union(param.expression)
    if all("." not in root for root in roots):  # `Observation`: every component must be there
        parts = tuple(_top_keys(c.expression, choices) for c in param.components)
        return None if any(p is None for p in parts) else parts
    keys: set[str] = set()
    for root in roots:  # `Observation | Observation.component`: any of them
        found = _top_keys(root, choices) if "." in root else \
            frozenset().union(*(_top_keys(c.expression, choices) or {"*"} for c in param.components))
        if found is None or "*" in found:
            return None
        keys |= found
    return (frozenset(keys),)


def _extractor(param: SearchParameterDef) -> Extractor | None:
    if param.strategy in ("column", "fulltext", "unsupported"):
        return None
    choices = choice_names()
    accessor, compiled = accessor_for(param.expression, choices)
    components = ()
    if param.strategy == "composite":
        components = tuple((f"{param.code}${i}", c.type, *accessor_for(c.expression, choices, relative=True))
                           for i, c in enumerate(param.components))
        if any(c[1] not in CONVERT for c in components):
            return None
    exact = compiled and all(c[3] for c in components)  # a fhirpathpy expression may select from nothing
    return Extractor(param.code, param.type, accessor, compiled, components,
                     _needs(param, choices) if exact else None)


@lru_cache(maxsize=None)
def extractors(type: str) -> tuple[Extractor, ...]:
    """The compiled extractors of a resource type, built on first use."""
    found = (_extractor(p) for p in registry().for_type(type).values())
    return tuple(e for e in found if e is not None)


@lru_cache(maxsize=4096)
def plan(type: str, keys: frozenset[str]) -> tuple[Extractor, ...]:
    """The extractors that can select anything from a resource with these top-level keys
    (a choice `value` is present as `valueQuantity`). Resources of a type come in few
    shapes, so this is computed once per shape and most empty parameters cost nothing."""
    present = set(keys)
    for key in keys:  # valueQuantity -> value
        for i in range(1, len(key)):
            if key[i].isupper():
                present.add(key[:i])
                break
    return tuple(e for e in extractors(type)
                 if e.needs is None or all(not need.isdisjoint(present) for need in e.needs))


def index_rows(resource: dict[str, Any]) -> list[IndexRow]:
    """Every index row the resource contributes (duplicates removed)."""
    rows: dict[tuple, None] = {}  # insertion-ordered set of (table, param, values)
    memo: dict[str, dict[int, list]] = {kind: {} for kind in CONVERT}  # shared by code, combo-code, ...
    grp = 0
    for extractor in plan(resource["resourceType"], frozenset(resource)):
        if extractor.components:
            for node in extractor.accessor(resource):
                grp += 1
                _composite_rows(extractor, node, grp, rows, memo)
            continue
        selected = extractor.accessor(resource)
        if selected:
            _rows(extractor.code, extractor.type, selected, None, rows, memo)
    _fulltext_rows(resource, rows)
    new = tuple.__new__  # IndexRow._make without its length check: an import makes millions
    return [new(IndexRow, row) for row in rows]


def _rows(code: str, kind: str, selected: list, grp: int | None, rows: dict, memo: dict) -> None:
    table, convert = CONVERT[kind]
    seen = memo[kind]  # id(value) -> converted rows, with grp None appended
    for value in selected:
        # the values outlive this call, so their ids stay unique
        converted = seen.get(id(value))
        if converted is None:
            converted = seen[id(value)] = [(*row, None) for row in convert(value)]
        if grp is None:
            for row in converted:
                rows[(table, code, row)] = None
        else:
            for row in converted:
                if kind != "token" or row[1]:  # a composite matches codes, not texts
                    rows[(table, code, (*row[:-1], grp))] = None
        if type(value) is dict:
            if kind == "token" and "type" in value:
                for of_type in values.identifier_types(value):
                    rows[("token_index", code + ":of-type", (*of_type, grp))] = None
            elif kind == "reference" and "identifier" in value:
                for ident in values.reference_identifier(value):
                    rows[("token_index", code + ":identifier", (*ident, grp))] = None


def _composite_rows(extractor: Extractor, node: Any, grp: int, rows: dict, memo: dict) -> None:
    # the last component (the value) is the rarer one: look at it first
    components = extractor.components
    last = components[-1][2](node)
    if not last:
        return
    selected = [c[2](node) for c in components[:-1]] + [last]
    if all(selected):  # a composite only matches when every component has a value
        for (param, kind, _, _), found in zip(components, selected):
            _rows(param, kind, found, grp, rows, memo)


def _fulltext_rows(resource: dict[str, Any], rows: dict) -> None:
    """One text_index row each for `_text` (the narrative) and `_content` (the strings)."""
    text = resource.get("text")
    if type(text) is dict and type(text.get("div")) is str:
        words = [word for word, _ in values.words(values.narrative_text(text["div"]))]
        if words:
            rows[("text_index", "_text", (" " + " ".join(words) + " ", None))] = None
    seen: dict[str, None] = {}
    _content_words(resource, seen)
    if seen:
        rows[("text_index", "_content", (" " + " ".join(seen) + " ", None))] = None


@lru_cache(maxsize=65536)
def _words(text: str) -> dict[str, None]:
    """The words of one string, as an ordered set; cached, as codes' displays and statuses
    repeat endlessly (and dict.update with it runs in C)."""
    return dict.fromkeys(word for word, _ in values.words(text))


_NOT_CONTENT = frozenset({"id", "reference", "system", "url", "div", "lastUpdated", "versionId",
                          "fullUrl", "profile", "data", "resourceType", "status", "code"})


def _content_words(node: dict, seen: dict[str, None]) -> None:
    """The words of the human-readable strings of a resource (not ids, codes, references,
    systems or the narrative), for `_content`, in document order."""
    for key, value in node.items():
        t = type(value)
        if t is str:
            # dates and numbers are not words to search for
            if key not in _NOT_CONTENT and not value[:4].isdigit():
                seen.update(_words(value))
        elif t is dict:
            if key not in _NOT_CONTENT or key == "code":  # Condition.code is a CodeableConcept
                _content_words(value, seen)
        elif t is list:
            if key in _NOT_CONTENT and key != "code":
                continue
            for item in value:
                t = type(item)
                if t is dict:
                    _content_words(item, seen)
                elif t is str:
                    seen.update(_words(item))


def compile_counts() -> tuple[int, int]:
    """(compiled, fallback): how many (type, parameter) expressions and composite components
    run as direct accessors and how many through fhirpathpy."""
    compiled = fallback = 0
    for type in registry().types():
        for extractor in extractors(type):
            for ok in (extractor.compiled, *(c[3] for c in extractor.components)):
                if ok:
                    compiled += 1
                else:
                    fallback += 1
    return compiled, fallback
