"""Search parameter expressions (FHIRPath) compiled once into plain Python accessors.

The R4 search parameters use a small part of FHIRPath (http://hl7.org/fhirpath/N1/):
dotted paths, `|` unions, `as`/`.as()`/`.ofType()` on choice elements, `.where(x='y')`,
`.where(resolve() is Type)`, `.extension('url')`, `[n]` and `.exists()`. Those compile here
into a chain of steps over the resource's JSON (lists of nodes), tens of times faster than
evaluating through fhirpathpy (4 ms per Observation for all its parameters). Anything else
falls back to fhirpathpy, compiled once per expression.

An accessor is `f(node) -> list` of the values the expression selects. A choice element
(`value[x]`) is found by its JSON name (`valueQuantity`): `.as(Quantity)` picks that key,
a bare `value` any `value<Type>` key (json.html#choice).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

Accessor = Callable[[Any], list]

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_STEP = re.compile(
    r"(?P<as>as\((?P<as_type>\w+)\))"
    r"|(?P<oftype>ofType\((?P<of_type>\w+)\))"
    r"|(?P<resolve>where\(resolve\(\) is (?P<target>\w+)\))"
    r"|(?P<where>where\((?P<field>" + _NAME + r") ?= ?'(?P<value>[^']*)'\))"
    r"|(?P<ext>extension\('(?P<url>[^']*)'\))"
    r"|(?P<exists>exists\(\))"
    r"|(?P<name>" + _NAME + r")(?:\[(?P<index>\d+)\])?"
)
_AS = re.compile(r"^\((?P<inner>.+) as (?P<type>\w+)\)(?P<rest>(?:\..+)?)$|^(?P<inner2>.+) as (?P<type2>\w+)$")


class NotCompilable(Exception):
    """The expression uses FHIRPath beyond what compile_path handles."""


def split_union(expression: str) -> list[str]:
    """Split on top-level `|` (outside parentheses and string literals)."""
    parts, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(expression):
        if ch == "'":
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _split_steps(path: str) -> list[str]:
    """Split a path on dots that are not inside parentheses or quotes."""
    steps, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(path):
        if ch == "'":
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "." and depth == 0:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps


# -- steps: each maps the list of current nodes to the next list -------------------------------
def _child(name: str) -> Callable[[list], list]:
    def step(nodes: list) -> list:
        out: list = []
        for node in nodes:
            if type(node) is dict:
                value = node.get(name)
                if value is None:
                    continue
                if type(value) is list:
                    out.extend(value)
                else:
                    out.append(value)
        return out
    step.child_name = name  # type: ignore[attr-defined]  # lets _run take the first step inline
    return step


def _choice(name: str, type_name: str | None) -> Callable[[list], list]:
    """`value` (any value[x]) or `value.as(Quantity)` (valueQuantity only)."""
    if type_name is not None:
        return _child(name + type_name[0].upper() + type_name[1:])
    size = len(name)

    def step(nodes: list) -> list:
        out: list = []
        for node in nodes:
            if type(node) is not dict:
                continue
            value = node.get(name)
            if value is None:
                for key, value in node.items():
                    if key.startswith(name) and len(key) > size and key[size].isupper():
                        break
                else:
                    continue
            if type(value) is list:
                out.extend(value)
            else:
                out.append(value)
        return out
    return step


def _index(position: int) -> Callable[[list], list]:
    return lambda nodes: nodes[position:position + 1]


def _where_equals(field: str, expected: str) -> Callable[[list], list]:
    return lambda nodes: [n for n in nodes if type(n) is dict and n.get(field) == expected]


def _extension(url: str) -> Callable[[list], list]:
    def step(nodes: list) -> list:
        return [e for n in nodes if type(n) is dict for e in n.get("extension", ()) if e.get("url") == url]
    return step


def _resolve_is(target: str) -> Callable[[list], list]:
    """`.where(resolve() is Patient)` without resolving: the reference names the type
    (`Patient/1`, `http://x/fhir/Patient/1`, or Reference.type)."""
    relative, absolute = target + "/", "/" + target + "/"

    def step(nodes: list) -> list:
        out = []
        for n in nodes:
            if type(n) is not dict:
                continue
            ref = n.get("reference")
            if type(ref) is str and (ref.startswith(relative) or absolute in ref):
                out.append(n)
            elif n.get("type") == target:
                out.append(n)
        return out
    return step


def _exists(nodes: list) -> list:
    return [bool(nodes)]


def _compile_chain(path: str, as_type: str | None, choices: frozenset[str], relative: bool) -> list:
    steps = _split_steps(path)
    if not relative:
        steps = steps[1:]  # drop the resource type the path starts from
    compiled: list = []
    for i, text in enumerate(steps):
        match = _STEP.fullmatch(text)
        if not match:
            raise NotCompilable(text)
        nxt = _STEP.fullmatch(steps[i + 1]) if i + 1 < len(steps) else None
        if match["name"]:
            name = match["name"]
            if name in choices:
                # `value.as(X)` / `value.ofType(X)` / a trailing ` as X` name the choice type
                chosen = None
                if nxt and (nxt["as"] or nxt["oftype"]):
                    chosen = nxt["as_type"] or nxt["of_type"]
                elif i == len(steps) - 1:
                    chosen = as_type
                compiled.append(_choice(name, chosen))
            else:
                compiled.append(_child(name))
            if match["index"] is not None:
                compiled.append(_index(int(match["index"])))
        elif match["as"] or match["oftype"]:
            prev = _STEP.fullmatch(steps[i - 1]) if i else None
            if not (prev and prev["name"] in choices):
                raise NotCompilable(text)  # a type test on a non-choice element
        elif match["resolve"]:
            compiled.append(_resolve_is(match["target"]))
        elif match["where"]:
            compiled.append(_where_equals(match["field"], match["value"]))
        elif match["ext"]:
            compiled.append(_extension(match["url"]))
        elif match["exists"]:
            compiled.append(_exists)
    return compiled


def _run(steps: list) -> Accessor:
    """The accessor for a chain of steps. The first step, mostly a plain child element,
    is done inline: most parameters are one or two steps, and this is the hot loop of
    indexing. The lists returned may be the resource's own: callers only read them."""
    first = getattr(steps[0], "child_name", None)
    rest = steps[1:] if first is not None else steps
    if first is not None and not rest:
        def child(node: Any) -> list:
            if type(node) is not dict:
                return []
            value = node.get(first)
            if value is None:
                return []
            return value if type(value) is list else [value]
        return child

    def accessor(node: Any) -> list:
        if first is not None:
            if type(node) is not dict:
                return []
            value = node.get(first)
            if value is None:
                return []
            nodes = value if type(value) is list else [value]
        else:
            nodes = [node]
        for step in rest:
            nodes = step(nodes)
            if not nodes:
                return nodes
        return nodes
    return accessor


def compile_part(part: str, choices: frozenset[str], relative: bool = False) -> Accessor:
    """One union member: `A.b.c`, `(A.b as T)`, `(A.b as T).c`, `A.b as T`."""
    part = part.strip()
    match = _AS.match(part)
    as_type = None
    if match:
        if match["inner"]:
            inner, as_type, rest = match["inner"], match["type"], match["rest"]
            if rest:
                inner = inner + "." + "as(" + as_type + ")" + rest
                as_type = None
        else:
            inner, as_type = match["inner2"], match["type2"]
        part = inner
    if not relative and "." not in part:
        if part[:1].isupper():
            return lambda node: [node]  # the resource itself (composite roots: `Observation`)
        relative = True  # a bare element name (InsurancePlan's `name | alias`)
    elif not relative and not part[:1].isupper():
        relative = True
    return _run(_compile_chain(part, as_type, choices, relative))


def compile_expression(expression: str, choices: frozenset[str], relative: bool = False) -> Accessor:
    """The whole expression; raises NotCompilable for shapes beyond the subset."""
    accessors = [compile_part(p, choices, relative) for p in split_union(expression)]
    if len(accessors) == 1:
        return accessors[0]
    return lambda node: [v for accessor in accessors for v in accessor(node)]


@lru_cache(maxsize=None)
def fhirpath_accessor(expression: str) -> Accessor:
    """The fallback: fhirpathpy, compiled once; a failure on one resource selects nothing
    (a bad stored value must not fail the write)."""
    import fhirpathpy

    compiled = fhirpathpy.compile(expression)

    def accessor(node: Any) -> list:
        try:
            return [v for v in compiled(node) if v is not None]
        except Exception:  # noqa: BLE001 - fhirpathpy raises assorted errors on odd data
            return []
    return accessor


def accessor_for(expression: str, choices: frozenset[str], relative: bool = False) -> tuple[Accessor, bool]:
    """(accessor, compiled?) — compiled to direct steps where possible, else fhirpathpy."""
    try:
        return compile_expression(expression, choices, relative), True
    except NotCompilable:
        return fhirpath_accessor(expression), False
