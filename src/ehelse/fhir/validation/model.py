"""Per-type lookup tables built once from the generated R4 definitions.

The validator walks a resource's JSON once; at each object it looks every key up in a
`Table` (a dict: JSON property name -> `Rule`). Building those tables here, at import, is
what keeps the walk fast: no path strings are parsed and no snapshot is searched while
validating.

JSON shape rules come from http://hl7.org/fhir/R4/json.html: an element whose base
cardinality max is not 1 is an array; a choice element `value[x]` appears as exactly one of
`valueQuantity`, `valueString`, ... (formats.html#choice); a primitive's id and extensions
travel in `_name` (json.html#primitive).
"""

from __future__ import annotations

from typing import Any, Callable

from ehelse.fhir.definitions import load
from ehelse.fhir.validation.primitives import CHECKERS, known_set
from ehelse.fhir.validation.terminology import CHECKED_STRENGTHS

# Rule.shape: how the JSON value must look (json.html: arrays for max != 1)
# and FORBIDDEN for max 0 (SimpleQuantity.comparator): present at all is an error.
SINGLE_PRIMITIVE, ARRAY_PRIMITIVE, SINGLE_COMPLEX, ARRAY_COMPLEX, FORBIDDEN = 0, 1, 2, 3, 4

# Type codes whose value is a resource (contained, Bundle.entry.resource, Parameters...).
RESOURCE_CODES = frozenset({"Resource", "DomainResource"})


class Rule:
    """How one JSON property of one object type is validated."""

    __slots__ = ("name", "code", "check", "table", "min", "max", "array", "choice",
                 "binding", "targets", "profiles", "is_resource", "is_primitive", "shape", "plain",
                 "invariants", "known", "simple", "simple_object", "string", "memo")

    def __init__(self, name: str, code: str, min_: int, max_: int, array: bool, choice: str | None,
                 binding: tuple[str, str] | None, targets: frozenset[str] | None,
                 profiles: tuple[str, ...]):
        self.name = name
        self.code = code
        self.check: Callable[[Any], str | None] | None = CHECKERS.get(code)
        self.is_primitive = self.check is not None
        self.is_resource = code in RESOURCE_CODES
        self.table: Table | None = None  # children, linked after every type is built
        self.min = min_
        self.max = max_  # -1: unbounded
        self.array = array
        self.choice = choice  # "value" for valueQuantity etc.; None for a plain element
        self.binding = binding
        self.targets = targets  # allowed reference target types; None: any
        self.profiles = profiles
        self.shape = (SINGLE_PRIMITIVE if self.is_primitive else SINGLE_COMPLEX) + (1 if array else 0)
        if max_ == 0:
            self.shape = FORBIDDEN
        # plain: a data type or backbone element checked by its table alone (no reference,
        # extension, binding or resource rules); set in Model.finish once tables are linked
        self.plain = False
        # the core invariants on this element and on the object it holds, set by
        # invariants.attach: (on the element, its FHIRPath type, on the object, its type) or None
        self.invariants: tuple | None = None
        # values already found to raise no binding issue: codes, or (system, code) of codings
        # (terminology.check_binding); emptied by primitives.clear_known
        self.known: set | None = known_set() if binding is not None else None
        # for a CodeableConcept: those found valid here, binding included (walker.py, cc_memorable);
        # made when the walk is generated, emptied with the known values and by invariants.attach
        self.memo: set | None = None
        self.simple = False  # set in finish
        self.simple_object = False  # set in finish
        # a string-like primitive (string, markdown): the walk checks it inline
        self.string = code in ("string", "markdown")

    def finish(self) -> None:
        # simple: a single primitive whose check is all there is (no choice, binding or
        # invariants): the structural walk's fast path. invariants.attach clears it.
        self.simple = (self.shape == SINGLE_PRIMITIVE and self.choice is None and self.binding is None
                       and self.invariants is None)
        self.plain = (not self.is_primitive and not self.is_resource and self.table is not None
                      and self.code not in ("Reference", "Extension")
                      and not (self.binding is not None and self.code in ("CodeableConcept", "Coding")))
        # simple_object: likewise a single plain object (checked by its table alone)
        self.simple_object = (self.shape == SINGLE_COMPLEX and self.plain and self.choice is None
                              and self.invariants is None)

    def __repr__(self) -> str:
        return f"Rule({self.name}: {self.code} {self.min}..{'*' if self.max < 0 else self.max})"


class Table(dict):
    """JSON property name -> Rule, plus what must be present (min >= 1)."""

    __slots__ = ("type_name", "required", "is_resource_root", "invariants", "known")

    def __init__(self, type_name: str):
        super().__init__()
        self.type_name = type_name
        # (label for messages, the JSON keys that satisfy it): e.g. ("value[x]", ("valueQuantity", ...)),
        # ("status", ("status", "_status")).
        self.required: list[tuple[str, tuple[str, ...]]] = []
        self.is_resource_root = False
        # for a resource type: its root invariants, set by invariants.attach (4 lists, see there)
        self.invariants: tuple | None = None
        # for a table of primitives only (Coding, Period, ...): flat objects of it already
        # found valid, as tuples of their items (structure.Walk.object); set by Model
        self.known: set | None = None


def _max(value: str) -> int:
    return -1 if value == "*" else int(value)


def _targets(type_entry: list) -> frozenset[str] | None:
    profiles = type_entry[1]
    if not profiles:
        return None
    names = set()
    for url in profiles:
        name = url.rsplit("/", 1)[-1]
        if name == "Resource":
            return None
        names.add(name)
    return frozenset(names)


def _upper_first(code: str) -> str:
    return code[0].upper() + code[1:]


class Model:
    """All R4 types: `tables[type]` for complex types and resources; `kinds[type]`."""

    def __init__(self, types: dict[str, dict[str, Any]]):
        self.definitions = types
        self.tables: dict[str, Table] = {}
        self.kinds = {name: d["kind"] for name, d in types.items()}
        self.resource_types = frozenset(
            name for name, d in types.items() if d["kind"] == "resource" and not d["abstract"])
        self.primitive_regex = {name: d.get("regex") for name, d in types.items()
                                if d["kind"] == "primitive-type"}
        self._paths: dict[str, Table] = {}  # element path -> table, for contentReference
        self._pending: list[tuple[Rule, str]] = []  # (rule, type or path) to link
        # the walk generated from these tables (structure.walkers, walker.Compiled)
        self.walkers: Any = None
        for name, definition in types.items():
            if definition["kind"] != "primitive-type":
                self.tables[name] = self._build(name, definition)
        for rule, target in self._pending:
            rule.table = self._paths.get(target) or self.tables.get(target)
        self._pending.clear()
        for table in [*self.tables.values(), *self._paths.values()]:
            for rule in table.values():
                rule.finish()
            # Tables whose elements are all primitives (extensions aside, which make an
            # object non-flat): their flat objects can be remembered once valid.
            # (Element and BackboneElement: the `_name` objects, which nearly always hold a list;
            # and tables with narrative or base64 data, long texts not worth hashing each time.)
            if (not table.is_resource_root and table.type_name not in ("Element", "BackboneElement")
                    and all(rule.is_primitive or rule.name in ("extension", "modifierExtension")
                            for rule in table.values())
                    and not any(rule.code in ("xhtml", "base64Binary") for rule in table.values())):
                table.known = known_set()

    def _build(self, name: str, definition: dict[str, Any]) -> Table:
        elements = definition["elements"]
        root = elements[0]["path"]
        tables: dict[str, Table] = {root: Table(name)}
        tables[root].is_resource_root = definition["kind"] == "resource"
        for element in elements[1:]:
            path = element["path"]
            parent_path, _, element_name = path.rpartition(".")
            parent = tables.get(parent_path)
            if parent is None or "sliceName" in element:
                continue  # inside a slice or a contentReference'd subtree
            max_ = _max(element["max"])
            array = max_ != 1 and max_ != 0  # JSON arrays follow the base max; 0 only constrains
            min_ = element["min"]
            keys: list[str] = []
            types = element.get("types")
            ref = element.get("ref")
            binding = tuple(element["binding"]) if "binding" in element else None
            if binding is not None and binding[0] not in CHECKED_STRENGTHS:
                binding = None  # example bindings are never checked: keep them off the hot path
            rel = name + path[len(root):]
            if ref is not None:
                rule = Rule(element_name, "BackboneElement", min_, max_, array, None, binding, None, ())
                self._pending.append((rule, name + ref[ref.index("."):] if "." in ref else ref))
                parent[element_name] = rule
                keys.append(element_name)
            elif element_name.endswith("[x]"):
                base = element_name[:-3]
                for type_entry in types:
                    code = type_entry[0]
                    key = base + _upper_first(code)
                    rule = Rule(key, code, min_, max_, array, base, binding, _targets(type_entry),
                                tuple(type_entry[2]))
                    self._link(rule, code, type_entry[2])
                    parent[key] = rule
                    keys.append(key)
            else:
                type_entry = types[0] if types else ["Element", [], []]
                code = type_entry[0]
                rule = Rule(element_name, code, min_, max_, array, None, binding, _targets(type_entry),
                            tuple(type_entry[2]))
                if code in ("BackboneElement", "Element") and element_name not in ("extension", "id"):
                    child = Table(f"{rel}")
                    tables[path] = child
                    self._paths[rel] = child
                    rule.table = child
                else:
                    self._link(rule, code, type_entry[2])
                parent[element_name] = rule
                keys.append(element_name)
            if min_ >= 1:
                primitive_keys = [f"_{k}" for k in keys if parent[k].is_primitive]
                parent.required.append((element_name, tuple(keys + primitive_keys)))
        return tables[root]

    def _link(self, rule: Rule, code: str, profiles: list[str] = ()) -> None:
        if rule.is_primitive or rule.is_resource:
            return
        # A core data type profile on the type (Quantity with SimpleQuantity: no comparator,
        # datatypes.html#SimpleQuantity) is itself a type here: use its table.
        for url in profiles:
            name = url.rsplit("/", 1)[-1]
            if self.definitions.get(name, {}).get("kind") == "complex-type":
                code = name
                break
        self._pending.append((rule, code))


_MODEL: Model | None = None


def model() -> Model:
    """The R4 model, built on first use (about 0.1 s) and shared after."""
    global _MODEL
    if _MODEL is None:
        _MODEL = Model(load("structures")["types"])
    return _MODEL
