"""Index extraction: a resource -> its rows in the index tables, driven by the registry.

For each resource type the registry's parameters are compiled once (search/paths.py) into
accessors; `index_rows(resource)` runs them and turns the selected values into rows
(search/values.py) for the tables storage/index.py describes. It is the repository's
default indexer, called inside the write's transaction.

Composite parameters (search.html#composite) write their components' rows under
`<code>$<n>` with one `grp` number per element occurrence, so a search for
`code-value-quantity=loinc|8480-6$gt100` matches code and value of the same component.
`_text` indexes the words of the narrative, `_content` the words of every string in the
resource (a simple full-text search; no stemming).
"""

from __future__ import annotations

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
    needs: frozenset[str] | None = None  # top-level elements it reads (None: unknown)


def _top_names(expression: str, relative: bool = False) -> set[str] | None:
    """The top-level elements an expression reads (`Observation.code.coding` -> {code}),
    or None when that cannot be told from its text."""
    names: set[str] = set()
    for part in split_union(expression):
        steps = part.strip().lstrip("(").split(".")
        name = steps[0] if relative else (steps[1] if len(steps) > 1 else "")
        name = name.split(" ", 1)[0].split("(", 1)[0].split("[", 1)[0]
        if not name.isidentifier() or name in ("extension", "where", "as", "ofType"):
            return None if name not in ("extension",) else names | {"extension"}
        names.add(name)
    return names


def _needs(param: SearchParameterDef) -> frozenset[str] | None:
    """What must be present at the top level for the parameter to select anything."""
    if param.strategy != "composite":
        found = _top_names(param.expression)
        return frozenset(found) if found is not None else None
    names: set[str] = set()
    for part in split_union(param.expression):
        if "." in part:  # `Observation.component`: the component element
            found = _top_names(part)
        else:  # the resource itself: what its components read
            found = set()
            for component in param.components:
                more = _top_names(component.expression, relative=True)
                if more is None:
                    return None
                found |= more
        if found is None:
            return None
        names |= found
    return frozenset(names)


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
    return Extractor(param.code, param.type, accessor, compiled, components, _needs(param))


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
    return tuple(e for e in extractors(type) if e.needs is None or not e.needs.isdisjoint(present))


def index_rows(resource: dict[str, Any]) -> list[IndexRow]:
    """Every index row the resource contributes (duplicates removed)."""
    rows: dict[tuple, None] = {}  # insertion-ordered set of (table, param, values)
    memo: dict[tuple, list] = {}  # (type, id(value)) -> converted: shared by code, combo-code, ...
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
    return [IndexRow(*row) for row in rows]


def _rows(code: str, kind: str, selected: list, grp: int | None, rows: dict, memo: dict) -> None:
    table, convert = CONVERT[kind]
    for value in selected:
        key = (kind, id(value))  # the values outlive this call, so their ids stay unique
        converted = memo.get(key)
        if converted is None:
            converted = memo[key] = convert(value)
        for row in converted:
            rows[(table, code, (*row, grp))] = None
        if kind == "token" and type(value) is dict and "type" in value:
            for of_type in values.identifier_types(value):
                rows[("token_index", code + ":of-type", (*of_type, grp))] = None
        elif kind == "reference" and type(value) is dict and "identifier" in value:
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
    text = resource.get("text")
    if type(text) is dict and type(text.get("div")) is str:
        for word in values.words(text["div"]):
            rows[("string_index", "_text", (*word, None))] = None
    strings: list[str] = []
    _strings(resource, strings)
    if strings:
        for word in values.words(" ".join(strings)):
            rows[("string_index", "_content", (*word, None))] = None


_NOT_CONTENT = frozenset({"id", "reference", "system", "url", "div", "lastUpdated", "versionId",
                          "fullUrl", "profile", "data", "resourceType", "status"})


def _strings(node: Any, out: list[str]) -> None:
    """The human-readable strings of a resource (not ids, references, systems or narrative),
    for `_content`."""
    for key, value in node.items():
        if key in _NOT_CONTENT:
            continue
        t = type(value)
        if t is str:
            if not value[:4].isdigit():  # dates and numbers are not words to search for
                out.append(value)
        elif t is dict:
            _strings(value, out)
        elif t is list:
            for item in value:
                if type(item) is dict:
                    _strings(item, out)
                elif type(item) is str:
                    out.append(item)


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
