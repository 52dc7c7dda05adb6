"""The core invariants: FHIRPath constraints of the R4 resources and data types.

conformance-rules.html#constraints: every constraint on an element must hold for every
occurrence of that element. The constraints and where they sit come from
definitions/invariants.json.gz (scripts/gen_invariants.py). `check(resource)` walks the
resource's JSON once, guided by the element tree of its type, and evaluates each constraint
with the occurrence as context -- so only constraints whose element is present cost anything,
and an issue's expression points at the occurrence (`Observation.referenceRange[0]`).

How a constraint is evaluated, fastest first:
1. a hand-written Python rule (NATIVE) for the few whose FHIRPath is costly and common;
2. Python compiled from the FHIRPath (fhirpath_compile.py) for the common shapes;
3. fhirpathpy, compiled once per expression, for the rest (and whenever compiled code meets
   data it does not handle, it raises Unsupported and fhirpathpy answers instead).
Constraints none of these can evaluate are listed by `unsupported()` with the reason.

An expression that evaluates to empty (e.g. comparing dates of different precision) is not
reported: only a definite `false` is a violation here, so we never reject valid data on an
undecidable comparison.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from ehelse.errors import Issue
from ehelse.fhir import definitions
from ehelse.fhir.jsoncodec import Number
from ehelse.fhir.validation import fhirpath_compile, shortcuts
from ehelse.fhir.validation.fhirpath_compile import Unsupported

# FHIRPath functions fhirpathpy does not have, or that need a server or terminology service.
_UNSUPPORTED_FUNCTIONS = {
    "htmlChecks": "htmlChecks() is the XHTML rule set of narrative.html#xhtml; the structural "
                  "validator checks the narrative's XHTML instead",
    "conformsTo": "conformsTo() needs profile validation",
    "memberOf": "memberOf() needs a terminology service",
    "resolve": "resolve() needs the referenced resource",
}


def unsupported_reason(expression: str) -> str | None:
    for name, why in _UNSUPPORTED_FUNCTIONS.items():
        if f"{name}(" in expression:
            return why
    return None


class Constraint:
    """One invariant, compiled on first use."""

    __slots__ = ("key", "severity", "human", "expression", "diagnostics", "_fn", "_fallback", "reason",
                 "_short", "_inner")

    def __init__(self, key: str, severity: str, human: str, expression: str):
        self.key, self.severity, self.human, self.expression = key, severity, human, expression
        self.diagnostics = f"{key}: {human} ({expression})"
        self._fn: Callable | None | bool = False  # False: not compiled yet
        self._fallback: Any = None
        self.reason: str | None = None  # set when it cannot be evaluated at all
        # when _fn is a shortcut wrapper (shortcuts.shortcut): the shortcut and the rule it
        # wraps, which evaluate() calls itself (one call less per constraint); set by prepare
        self._short: Callable | None = None
        self._inner: Callable | None = None

    def prepare(self) -> None:
        if self._fn is not False:
            return
        self._fn = NATIVE.get(self.key)
        if self._fn is not None:
            return
        self.reason = unsupported_reason(self.expression)
        if self.reason:
            self._fn = None
            return
        try:
            self._fn = fhirpath_compile.compile_expression(self.expression)
            if self.key in GUARDED_BY_CONTAINED:
                self._fn = _without_contained(self._fn)
            elif self.key == "per-1":
                self._fn = _period_as_text(self._fn)
            else:
                self._fn = shortcuts.shortcut(self.key, self._fn)
        except Unsupported:
            self._fn = None
        self._short = getattr(self._fn, "shortcut", None)
        self._inner = getattr(self._fn, "rule", None)
        try:
            self._fallback = _fhirpathpy_parse(self.expression)
        except Exception as exc:  # noqa: BLE001 - any parser failure means "cannot evaluate"
            if self._fn is None:
                self.reason = f"fhirpathpy cannot parse it: {exc}"

    def holds(self, node: Any, base: str, env: dict) -> bool | None:
        """True / False, or None when the expression gives empty or cannot be evaluated."""
        self.prepare()
        if self._fn is not None:
            try:
                return self._fn(node, env)
            except Unsupported:
                pass
        if self._fallback is None:
            return None
        return _fhirpathpy_eval(self._fallback, node, base, env)


# -- fhirpathpy (the fallback) -----------------------------------------------------------


def _fhirpathpy_parse(expression: str) -> Any:
    from fhirpathpy.parser import parse

    return parse(expression)


_USER_FUNCTIONS = {
    # FHIRPath 2.0 / FHIR's hasValue() (fhirpath.html#functions): fhirpathpy lacks it.
    "hasValue": {"fn": lambda inputs: len(inputs) == 1 and inputs[0] is not None
                 and not isinstance(inputs[0], (dict, list))},
}


def _plain(value: Any) -> Any:
    """A copy fhirpathpy can read: exact-decimal `Number`s become `Decimal`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Number):
        return Decimal(value.text)
    return value


def _fhirpathpy_eval(parsed: Any, node: Any, base: str, env: dict) -> bool | None:
    from fhirpathpy import apply_parsed_path
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models

    plain = env.get("_plain")
    if plain is None:  # convert the resources once per check(), only when needed
        plain = env["_plain"] = {"resource": _plain(env["resource"]), "rootResource": _plain(env["rootResource"])}
    options = {"userInvocationTable": _USER_FUNCTIONS, "traceFn": _no_trace}
    try:
        data = ResourceNode.create_node(_plain(node), base)
        result = apply_parsed_path(data, parsed, dict(plain), models["r4"], options)
    except Exception:  # noqa: BLE001 - an evaluation error is "cannot tell", never a 500
        return None
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return None


def _no_trace(label: str, value: Any) -> None:
    """trace() in some core expressions would print to stdout; say nothing."""


# -- hand-written rules ------------------------------------------------------------------


def _dom_3(node: Any, env: dict) -> bool | None:
    """dom-3: every contained resource is referenced from elsewhere in the resource, or
    itself refers to its container with `#` (references.html#contained)."""
    contained = node.get("contained") if isinstance(node, dict) else None
    if not contained:
        return True
    hashes: set[str] = set()
    for key, value in node.items():
        if key != "contained":
            _collect_hash_strings(value, hashes)
    inners = []  # each contained resource's '#' strings, collected once
    for resource in contained:
        inner: set[str] = set()
        _collect_hash_strings(resource, inner)
        inners.append(inner)
        hashes |= inner - {"#"}
    for resource, inner in zip(contained, inners):
        if not isinstance(resource, dict):
            continue
        rid = resource.get("id")
        if isinstance(rid, str) and "#" + rid in hashes:
            continue
        if "#" not in inner:
            return False
    return True


def _collect_hash_strings(value: Any, out: set[str]) -> None:
    """Every string starting with '#' below `value` (references, canonicals, uris)."""
    kind = type(value)
    if kind is str:
        if value[:1] == "#":
            out.add(value)
    elif kind is dict:
        for v in value.values():
            if type(v) is str:  # most values: no call for them
                if v[:1] == "#":
                    out.add(v)
            else:
                _collect_hash_strings(v, out)
    elif kind is list:
        for v in value:
            _collect_hash_strings(v, out)


def _que_7(node: Any, env: dict) -> bool | None:
    """que-7: `operator = 'exists' implies (answer is Boolean)` -- fhirpathpy gets the choice
    type test wrong, and it is one key look-up in JSON."""
    return node.get("operator") != "exists" or "answerBoolean" in node


def _ras_2(node: Any, env: dict) -> bool | None:
    """ras-2: `probability is decimal implies (probability as decimal) <= 100`."""
    value = node.get("probabilityDecimal")
    if value is None:
        return True
    number = fhirpath_compile._number(value)
    return None if number is None else number <= 100


def _ref_1(node: Any, env: dict) -> bool | None:
    """ref-1: a local reference `#id` must name a contained resource of the root resource
    (on every Reference, so worth a direct rule)."""
    reference = node.get("reference") if type(node) is dict else None
    if type(reference) is not str or not reference.startswith("#"):
        return True
    contained = env["rootResource"].get("contained")
    target = reference[1:]
    return any(type(c) is dict and c.get("id") == target for c in contained or ())


def _without_contained(rule: Callable[[Any, dict], bool | None]) -> Callable[[Any, dict], bool | None]:
    """dom-2, dom-4, dom-5 only look at `contained`: true at once for most resources."""
    def guarded(node: Any, env: dict) -> bool | None:
        if type(node) is dict and "contained" not in node:
            return True
        return rule(node, env)
    return guarded


# A dateTime to the second with its zone, or a date: two of one shape with the same zone
# order as their text does (fhirpath.html#comparison gives the same answer: same precision).
_PLAIN_INSTANT = re.compile(r"\d{4}-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d))?")


def _period_as_text(rule: Callable[[Any, dict], bool | None]) -> Callable[[Any, dict], bool | None]:
    """per-1 (`start <= end` on every Period): when both ends are written alike -- same length,
    same zone, the common Synthea shape -- compare the text; else the compiled FHIRPath.
    The compiled comparison parses both into parts and cost ~50 us a Period."""
    def fast(node: Any, env: dict) -> bool | None:
        if type(node) is dict:
            start, end = node.get("start"), node.get("end")
            if start is None or end is None:
                if start is None and "_start" not in node or end is None and "_end" not in node:
                    return True  # an end without a value: `hasValue().not()` holds
            elif (type(start) is str and type(end) is str and len(start) == len(end)
                  and start[19:] == end[19:] and _PLAIN_INSTANT.fullmatch(start)
                  and _PLAIN_INSTANT.fullmatch(end)):
                return start <= end
        return rule(node, env)
    return fast


NATIVE: dict[str, Callable[[Any, dict], bool | None]] = {
    "dom-3": _dom_3, "que-7": _que_7, "ras-2": _ras_2, "ref-1": _ref_1,
}
GUARDED_BY_CONTAINED = ("dom-2", "dom-4", "dom-5")


# -- the walk ----------------------------------------------------------------------------

_CONSTRAINTS: list[Constraint] | None = None
# type -> (constraints per element path, slots per element path); a slot is
# json key -> (child element path, kind, constraints on the child element or None).
# Keys that lead nowhere (a primitive without constraints) have no slot: the walk skips them.
_TYPES: dict[str, tuple[dict[str, list[Constraint]], dict[str, dict[str, tuple]]]] = {}


def _load() -> list[Constraint]:
    global _CONSTRAINTS
    if _CONSTRAINTS is None:
        data = definitions.load("invariants")
        constraints = [Constraint(*row) for row in data["constraints"]]
        # Constraints that cannot be evaluated are left out of the walk (unsupported() lists them).
        live = [c if c.key in NATIVE or not unsupported_reason(c.expression) else None for c in constraints]
        ats = {}
        for name, entry in data["types"].items():
            at = {path: [live[i] for i in rows if live[i]] for path, rows in entry["at"].items()}
            ats[name] = {path: rows for path, rows in at.items() if rows}
        useful = _types_with_work(data["types"], ats)
        for name, entry in data["types"].items():
            at = ats[name]
            slots: dict[str, dict[str, tuple]] = {}
            for path, children in entry["children"].items():
                kept = {}
                for key, (child_path, kind) in children.items():
                    on_child = at.get(child_path) if kind else None  # backbones evaluate in _walk
                    if on_child or kind in ("", "Resource") or kind in useful:
                        kept[key] = (child_path, kind if kind == "" or kind == "Resource" or kind in useful else "-",
                                     on_child)
                slots[path] = kept
            _TYPES[name] = (at, slots)
        _CONSTRAINTS = constraints
    return _CONSTRAINTS


def _types_with_work(types: dict, ats: dict) -> set[str]:
    """Data types below which some constraint can apply (a fixpoint: Extension reaches
    value[x], which reaches Period, ...). The walk does not descend into the others."""
    useful = {name for name, at in ats.items() if at}
    changed = True
    while changed:
        changed = False
        for name, entry in types.items():
            if name in useful:
                continue
            for children in entry["children"].values():
                if any(kind == "Resource" or kind in useful for _, kind in children.values()):
                    useful.add(name)
                    changed = True
                    break
    return useful


def check(resource: dict) -> list[Issue]:
    """Every violated invariant in `resource` (and its contained / entry resources)."""
    _load()
    issues: list[Issue] = []
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        _resource(resource, resource["resourceType"], resource, issues)
    return issues


def _location(location: Any) -> str:
    """Locations are built as (parent, key, index) tuples and written out only for an issue."""
    parts = []
    while type(location) is tuple:
        location, key, index = location
        parts.append(key if index is None else f"{key}[{index}]")
    parts.append(location)
    return ".".join(reversed(parts))


def _resource(resource: dict, location: Any, root: dict, issues: list[Issue]) -> None:
    type_name = resource.get("resourceType")
    if type_name not in _TYPES:
        return  # unknown type: the structural validator reports it
    env = {"resource": resource, "rootResource": root, "context": resource}
    _walk(resource, type_name, type_name, location, env, issues)


def _evaluate(constraints: list[Constraint], node: Any, base: str, location: Any, env: dict,
              issues: list[Issue]) -> None:
    for constraint in constraints:
        if constraint.key == "dom-6" and env["resource"] is not env["rootResource"]:
            continue  # a contained resource's narrative is its container's (dom-6 is advice)
        if constraint.holds(node, base, env) is False:
            issues.append(Issue(constraint.severity, "invariant", constraint.diagnostics, _location(location)))


def _walk(node: Any, type_name: str, path: str, location: Any, env: dict, issues: list[Issue]) -> None:
    at, slots_by_path = _TYPES[type_name]
    here = at.get(path)
    if here:
        _evaluate(here, node, path, location, env, issues)
    slots = slots_by_path.get(path)
    if not slots or type(node) is not dict:
        return
    for key, value in node.items():
        slot = slots.get(key)
        if slot is None:
            continue  # resourceType, `_primitive` extensions, primitives, unknown names
        if type(value) is list:
            for index, item in enumerate(value):
                _child(item, type_name, slot, (location, key, index), env, issues)
        else:
            _child(value, type_name, slot, (location, key, None), env, issues)


def _child(item: Any, type_name: str, slot: tuple, location: Any, env: dict, issues: list[Issue]) -> None:
    child_path, kind, on_child = slot
    if on_child:  # constraints on this element of the parent type (e.g. ras-1 on probability[x])
        _evaluate(on_child, item, kind if kind not in ("-", "Resource") else child_path, location, env, issues)
    if kind == "":
        _walk(item, type_name, child_path, location, env, issues)
    elif kind == "Resource":
        if type(item) is dict:
            # %resource is the inner resource; %rootResource stays the container for contained
            # resources only (fhirpath.html#variables as FHIR defines them).
            root = env["rootResource"] if child_path.endswith(".contained") else item
            _resource(item, location, root, issues)
    elif kind != "-" and type(item) is dict:
        _walk(item, kind, kind, location, env, issues)


# -- riding on the structural walk ---------------------------------------------------------
#
# validate() does not walk the resource a second time: invariants are attached to the
# structural tables (`attach`), the structural walk (structure.Walk) collects each occurrence
# that has constraints while it checks the structure anyway, and `evaluate` runs them once
# the structure is known to be valid. The plan mirrors `_walk` above (the same constraints,
# on the same occurrences, with the same context and expression paths);
# tests/fhir/validation/test_invariants.py compares the two on every official example.

_ATTACHED: list = []  # the Model the constraints are attached to


def attach(model: Any) -> None:
    """Put each constraint on the structural model: `Rule.invariants` = (constraints on the
    element, its type for FHIRPath, constraints on the object it holds, that object's type),
    and `Table.invariants` on resource types = its root constraints, in four variants by
    (has `contained`, is itself contained): dom-2..dom-5 are about `contained` and hold
    vacuously without it, and dom-6 (narrative) is not asked of a contained resource."""
    if _ATTACHED and _ATTACHED[0] is model:
        return
    _load()
    for type_name, (at, slots_by_path) in _TYPES.items():
        for path, slots in slots_by_path.items():
            table = model.tables.get(path) or model._paths.get(path)
            if table is None:
                continue
            for key, (child_path, kind, on_child) in slots.items():
                rule = table.get(key)
                if rule is None:
                    continue
                if kind == "":
                    on_object, object_base = at.get(child_path), child_path
                elif kind in ("-", "Resource"):
                    on_object, object_base = None, None
                else:
                    on_object, object_base = _TYPES[kind][0].get(kind), kind
                child_base = kind if kind not in ("-", "Resource") else child_path
                if on_child or on_object:
                    rule.invariants = (on_child or None, child_base, on_object or None, object_base)
                    rule.simple = rule.simple_object = False  # the walk's fast paths would not collect them
                    if on_child:
                        table.known = None  # its objects always collect something (Narrative.div)
        table = model.tables.get(type_name)
        root = at.get(type_name)
        if table is not None and table.is_resource_root and root:
            without = [c for c in root if c.key not in GUARDED_BY_CONTAINED and c.key != "dom-3"]
            table.invariants = (
                without or None,                                          # no contained, top
                [c for c in without if c.key != "dom-6"] or None,         # no contained, contained
                root,                                                     # contained, top
                [c for c in root if c.key != "dom-6"] or None,            # (a contained one has none)
            )
    # CodeableConcepts remembered as valid (Rule.memo) were walked without these constraints
    for table in [*model.tables.values(), *model._paths.values()]:
        for rule in table.values():
            if rule.memo is not None:
                rule.memo.clear()
    _ATTACHED[:] = [model]
    if getattr(model, "walkers", None) is not None:
        model.walkers.reset()  # generated from the tables as they were before


def evaluate(pending: list[tuple]) -> list[Issue]:
    """Evaluate the occurrences the structural walk collected: each is (constraints, node,
    FHIRPath type, (parent path, key, index), env)."""
    issues: list[Issue] = []
    for constraints, node, base, where, env in pending:
        for constraint in constraints:
            # Constraint.holds, inlined: this runs for every constraint on every write
            fn = constraint._fn
            if fn is False:
                constraint.prepare()
                fn = constraint._fn
            short = constraint._short
            result = None
            if short is not None and type(node) is dict:  # as shortcuts.shortcut's wrapper does
                result = short(node, env)
                fn = constraint._inner
            if result is None:
                try:
                    if fn is None:
                        raise Unsupported
                    result = fn(node, env)
                except Unsupported:
                    fallback = constraint._fallback
                    result = None if fallback is None else _fhirpathpy_eval(fallback, node, base, env)
            if result is False:
                parent, key, index = where
                issues.append(Issue(constraint.severity, "invariant", constraint.diagnostics,
                                    parent if key is None else
                                    f"{parent}.{key}" if index is None else f"{parent}.{key}[{index}]"))
    return issues


def constraints() -> list[Constraint]:
    """Every core invariant this module knows (ele-1 and ext-1 are left to the structure pass)."""
    return list(_load())


def unsupported() -> list[tuple[str, str]]:
    """(key, reason) for each constraint that is not evaluated, for the docs."""
    out = []
    for constraint in _load():
        constraint.prepare()
        if constraint.reason:
            out.append((constraint.key, constraint.reason))
    return sorted(set(out))
