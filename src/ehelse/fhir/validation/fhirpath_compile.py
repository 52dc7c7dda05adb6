"""A small FHIRPath-to-Python compiler for the shapes the core invariants use.

fhirpathpy evaluates an invariant in ~50-100 µs; the server checks invariants on every
write, so the common shapes (`a.exists() or b.empty()`, `x.count() <= 1`, `where(...)`,
comparisons, `in ('a' | 'b')`, `matches()`, ...) are turned into Python closures here, from
fhirpathpy's own parse tree. Semantics follow fhirpath.html (N1, as FHIR R4 uses it):
collections are Python lists; `and`/`or`/`xor`/`implies` are three-valued (None = empty).

Anything outside the subset raises `Unsupported` -- at compile time (unknown function,
`is`/`as`) or at run time (e.g. comparing two Quantities, a non-singleton where a singleton
is needed) -- and the caller falls back to fhirpathpy for that evaluation. The differential
test in tests/fhir/validation/test_invariants.py runs both engines over the official
examples and requires identical answers wherever fhirpathpy gives one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Callable

from ehelse.fhir import definitions
from ehelse.fhir.jsoncodec import Number

Fn = Callable[[list, dict], list]
UCUM = "http://unitsofmeasure.org"


class Unsupported(Exception):
    """This expression, or this data, is outside what the compiler handles."""


class NoValue:
    """A primitive element with extensions but no value (json.html#primitive: `_birthDate`)."""

    __slots__ = ("extension",)

    def __init__(self, extension: Any):
        self.extension = extension


# Type names as they follow a choice element's base name in JSON (valueQuantity).
_TYPE_SUFFIXES = frozenset(
    "Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer Markdown Oid "
    "PositiveInt String Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment "
    "CodeableConcept Coding ContactPoint Count Distance Duration HumanName Identifier Money "
    "Period Quantity Range Ratio Reference SampledData Signature Timing ContactDetail "
    "Contributor DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition "
    "UsageContext Dosage Meta".split()
)


_CHOICES: frozenset[str] | None = None


def _choice_bases() -> frozenset[str]:
    global _CHOICES
    if _CHOICES is None:
        _CHOICES = frozenset(definitions.load("invariants")["choices"])
    return _CHOICES


def _children(item: dict, name: str, out: list) -> None:
    value = item.get(name)
    ext = item.get("_" + name)
    if value is None and ext is None:
        if name not in _choice_bases():
            return
        for key in item:  # a choice element: `value` finds valueQuantity (fhirpath.html#paths)
            bare = key[1:] if key[:1] == "_" else key  # or only its `_valueString` extension
            if bare.startswith(name) and bare[len(name):] in _TYPE_SUFFIXES:
                value = item.get(bare)
                ext = item.get("_" + bare)
                break
        else:
            return
    if type(value) is list:
        exts = ext if type(ext) is list else ()
        for i, v in enumerate(value):
            if v is not None:
                out.append(v)
            elif i < len(exts) and exts[i] is not None:
                out.append(NoValue(exts[i]))
    elif value is not None:
        out.append(value)
    elif ext is not None:
        out.append(NoValue(ext))


def _member(name: str) -> Fn:
    if name[:1].isupper():  # `Appointment.status`: a type name as the first step
        def type_step(focus: list, env: dict) -> list:
            return [i for i in focus if type(i) is dict and i.get("resourceType") == name]
        return type_step

    def member(focus: list, env: dict) -> list:
        out: list = []
        for item in focus:
            if type(item) is dict:
                _children(item, name, out)
        return out
    return member


# -- values --------------------------------------------------------------------------------


def _as_bool(collection: list) -> bool | None:
    """Singleton evaluation of collections (fhirpath.html#singleton) for boolean operators."""
    if not collection:
        return None
    if len(collection) > 1:
        raise Unsupported("boolean of a collection of several items")
    value = collection[0]
    return value if type(value) is bool else True


def _number(value: Any) -> Decimal | None:
    if type(value) is bool:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Number):
        return Decimal(value.text)
    if isinstance(value, Decimal):
        return value
    return None


_DATE = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?(Z|[+-]\d\d:\d\d)?)?)?)?")


def _date_parts(text: str) -> tuple[list, int | None] | None:
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    parts = [p for p in match.groups()[:6] if p is not None]
    tz = match.group(7)
    offset = None
    if tz:
        offset = 0 if tz == "Z" else (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 60 + int(tz[4:6]))
    values: list = [int(p) for p in parts[:5]] + [Decimal(p) for p in parts[5:]]
    return values, offset


def _compare_dates(a: str, b: str) -> int | None:
    """fhirpath.html#comparison for date/dateTime strings; None when precision decides."""
    pa, pb = _date_parts(a), _date_parts(b)
    if pa is None or pb is None:
        raise Unsupported("comparison of non-date strings")
    (va, ta), (vb, tb) = pa, pb
    if len(va) > 3 or len(vb) > 3:  # has a time: align time zones when both have one
        if (ta is None) != (tb is None):
            return None
        if ta is not None and ta != tb:
            if len(va) < 5 or len(vb) < 5:
                return None
            from datetime import datetime, timedelta

            def utc(v: list, t: int) -> list:
                d = datetime(v[0], v[1], v[2], v[3], v[4]) - timedelta(minutes=t)
                return [d.year, d.month, d.day, d.hour, d.minute] + v[5:]
            va, vb = utc(va, ta), utc(vb, tb)
    if len(va) >= 5 and len(vb) >= 5:  # seconds and milliseconds are one precision
        va, vb = va + [Decimal(0)] * (6 - len(va)), vb + [Decimal(0)] * (6 - len(vb))
    for x, y in zip(va, vb):
        if x != y:
            return -1 if x < y else 1
    return 0 if len(va) == len(vb) else None


def _compare(a: Any, b: Any) -> int | None:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if type(a) is dict and type(b) is dict and "value" in a and "value" in b:
        # Quantities (rng-2): comparable when they share the unit code (no UCUM conversion)
        if (a.get("system"), a.get("code")) != (b.get("system"), b.get("code")) or a.get("code") is None:
            raise Unsupported("quantities in different units")
        return _compare(a["value"], b["value"])
    if type(a) is str and type(b) is str:
        if a[:1].isdigit() and b[:1].isdigit():
            return _compare_dates(a, b)
        return (a > b) - (a < b)
    raise Unsupported(f"comparison of {type(a).__name__} and {type(b).__name__}")


def _equal(a: Any, b: Any) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    if type(a) is dict and type(b) is dict:
        return a == b
    if isinstance(a, (NoValue, Number)) or isinstance(b, (NoValue, Number)):
        raise Unsupported("equality with an extension-only primitive")
    return a == b


# -- operators -----------------------------------------------------------------------------


def _singleton(value: list) -> Any:
    if len(value) > 1:
        raise Unsupported("a singleton was expected")
    return value[0] if value else None


def _bool_op(op: str, left: Fn, right: Fn) -> Fn:
    def and_(focus: list, env: dict) -> list:
        a = _as_bool(left(focus, env))
        if a is False:
            return [False]
        b = _as_bool(right(focus, env))
        if b is False:
            return [False]
        return [True] if a and b else []

    def or_(focus: list, env: dict) -> list:
        a = _as_bool(left(focus, env))
        if a is True:
            return [True]
        b = _as_bool(right(focus, env))
        if b is True:
            return [True]
        return [False] if a is False and b is False else []

    def xor(focus: list, env: dict) -> list:
        a, b = _as_bool(left(focus, env)), _as_bool(right(focus, env))
        return [] if a is None or b is None else [a != b]

    def implies(focus: list, env: dict) -> list:
        a = _as_bool(left(focus, env))
        if a is False:
            return [True]
        b = _as_bool(right(focus, env))
        if b is True:
            return [True]
        if a is True:
            return [] if b is None else [False]
        return [] if b is not True else [True]

    return {"and": and_, "or": or_, "xor": xor, "implies": implies}[op]


def _binary(op: str, left: Fn, right: Fn) -> Fn:
    if op in ("and", "or", "xor", "implies"):
        return _bool_op(op, left, right)
    if op in ("=", "!="):
        negate = op == "!="

        def equality(focus: list, env: dict) -> list:
            a, b = left(focus, env), right(focus, env)
            if not a or not b:
                return []
            if len(a) != len(b):
                return [negate]
            same = all(_equal(x, y) for x, y in zip(a, b))
            return [same != negate]
        return equality
    if op in ("<", "<=", ">", ">="):
        test = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}[op]

        def inequality(focus: list, env: dict) -> list:
            a, b = _singleton(left(focus, env)), _singleton(right(focus, env))
            if a is None or b is None:
                return []
            c = _compare(a, b)
            return [] if c is None else [test(c)]
        return inequality
    if op == "|":
        def union(focus: list, env: dict) -> list:
            out: list = []
            for x in left(focus, env) + right(focus, env):
                if not any(_equal(x, y) for y in out):
                    out.append(x)
            return out
        return union
    if op in ("in", "contains"):
        element, container = (left, right) if op == "in" else (right, left)

        def membership(focus: list, env: dict) -> list:
            x = _singleton(element(focus, env))
            if x is None:
                return []
            return [any(_equal(x, y) for y in container(focus, env))]
        return membership
    if op in ("+", "-", "&"):
        def arithmetic(focus: list, env: dict) -> list:
            a, b = _singleton(left(focus, env)), _singleton(right(focus, env))
            if op == "&":
                return [("" if a is None else str(a)) + ("" if b is None else str(b))]
            if a is None or b is None:
                return []
            if type(a) is str and type(b) is str and op == "+":
                return [a + b]
            na, nb = _number(a), _number(b)
            if na is None or nb is None:
                raise Unsupported("arithmetic on non-numbers")
            return [na + nb if op == "+" else na - nb]
        return arithmetic
    raise Unsupported(f"operator {op}")


# -- functions (fhirpath.html#functions) ---------------------------------------------------


def _string(focus: list) -> str | None:
    value = _singleton(focus)
    if value is None:
        return None
    if type(value) is not str:
        raise Unsupported("a string function on a non-string")
    return value


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _function(name: str, args: list[Fn]) -> Fn:
    n = len(args)
    if name == "exists" and n == 0:
        return lambda focus, env: [bool(focus)]
    if name == "exists" and n == 1:
        where = _function("where", args)
        return lambda focus, env: [bool(where(focus, env))]
    if name == "empty" and n == 0:
        return lambda focus, env: [not focus]
    if name == "not" and n == 0:
        def not_(focus: list, env: dict) -> list:
            value = _as_bool(focus)
            return [] if value is None else [not value]
        return not_
    if name == "count" and n == 0:
        return lambda focus, env: [len(focus)]
    if name == "hasValue" and n == 0:
        return lambda focus, env: [len(focus) == 1 and not isinstance(focus[0], (dict, NoValue))]
    if name in ("first", "last", "tail") and n == 0:
        return {"first": lambda f, e: f[:1], "last": lambda f, e: f[-1:], "tail": lambda f, e: f[1:]}[name]
    if name == "trace":
        return lambda focus, env: focus
    if name in ("where", "all", "select") and n == 1:
        (criteria,) = args

        def iterate(focus: list, env: dict) -> list:
            saved = env.get("$this")
            out: list = []
            try:
                for item in focus:
                    env["$this"] = item
                    result = criteria([item], env)
                    if name == "select":
                        out.extend(result)
                        continue
                    ok = _as_bool(result)
                    if name == "where" and ok:
                        out.append(item)
                    elif name == "all" and not ok:
                        return [False]
            finally:
                env["$this"] = saved
            return [True] if name == "all" else out
        return iterate
    if name == "intersect" and n == 1:
        (other,) = args

        def intersect(focus: list, env: dict) -> list:
            right = other(focus, env)
            out: list = []
            for x in focus:
                if any(_equal(x, y) for y in right) and not any(_equal(x, y) for y in out):
                    out.append(x)
            return out
        return intersect
    if name == "descendants" and n == 0:
        def descendants(focus: list, env: dict) -> list:
            out: list = []
            stack = list(reversed(focus))
            while stack:
                item = stack.pop()
                if type(item) is dict:
                    found: list = []
                    for key in item:
                        if key != "resourceType" and not key.startswith("_"):
                            _children(item, key, found)
                    out.extend(found)
                    stack.extend(reversed(found))
            return out
        return descendants
    if name == "is" and n == 1 and args[0].__name__ == "type_step":
        type_test = args[0]  # `is(Composition)`: a resource type name parses as a type step

        def is_type(focus: list, env: dict) -> list:
            item = _singleton(focus)
            return [] if item is None else [bool(type_test([item], env))]
        return is_type
    if name == "isDistinct" and n == 0:
        def is_distinct(focus: list, env: dict) -> list:
            if all(type(x) is str for x in focus):  # the common case (ids, linkIds): O(n)
                return [len(set(focus)) == len(focus)]
            for i, x in enumerate(focus):
                if any(_equal(x, y) for y in focus[:i]):
                    return [False]
            return [True]
        return is_distinct
    if name in ("startsWith", "endsWith", "contains", "matches") and n == 1:
        (arg,) = args

        def string_test(focus: list, env: dict) -> list:
            value, other = _string(focus), _string(arg(focus, env))
            if value is None or other is None:
                return []
            if name == "startsWith":
                return [value.startswith(other)]
            if name == "endsWith":
                return [value.endswith(other)]
            if name == "contains":
                return [other in value]
            return [_regex(other).search(value) is not None]  # matches(): a partial match
        return string_test
    if name == "substring" and n in (1, 2):
        def substring(focus: list, env: dict) -> list:
            value = _string(focus)
            start = _singleton(args[0](focus, env))
            if value is None or type(start) is not int or not 0 <= start < len(value):
                return []
            if n == 2:
                length = _singleton(args[1](focus, env))
                return [value[start:start + length]] if type(length) is int else [value[start:]]
            return [value[start:]]
        return substring
    if name == "length" and n == 0:
        return lambda focus, env: [] if (s := _string(focus)) is None else [len(s)]
    if name == "toInteger" and n == 0:
        def to_integer(focus: list, env: dict) -> list:
            value = _singleton(focus)
            if type(value) is int:
                return [value]
            if type(value) is str and re.fullmatch(r"[+-]?\d+", value):
                return [int(value)]
            return []
        return to_integer
    if name == "toString" and n == 0:
        def to_string(focus: list, env: dict) -> list:
            value = _singleton(focus)
            if value is None:
                return []
            if type(value) is bool:
                return ["true" if value else "false"]
            if isinstance(value, (int, float, Number, Decimal, str)):
                return [value.text if isinstance(value, Number) else str(value)]
            raise Unsupported("toString of a complex value")
        return to_string
    if name == "iif" and n in (2, 3):
        def iif(focus: list, env: dict) -> list:
            if _as_bool(args[0](focus, env)):
                return args[1](focus, env)
            return args[2](focus, env) if n == 3 else []
        return iif
    raise Unsupported(f"function {name}() with {n} arguments")


# -- the parse tree --------------------------------------------------------------------------


def _literal(node: dict) -> Fn:
    kind = node["type"]
    text = node["terminalNodeText"][0] if node.get("terminalNodeText") else node.get("text", "")
    if kind == "StringLiteral":
        value = text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in text else text[1:-1]
        return lambda focus, env: [value]
    if kind == "NumberLiteral":
        try:
            number: Any = int(text) if re.fullmatch(r"\d+", text) else Decimal(text)
        except InvalidOperation:
            raise Unsupported(f"number {text}") from None
        return lambda focus, env: [number]
    if kind == "BooleanLiteral":
        flag = text == "true"
        return lambda focus, env: [flag]
    if kind == "NullLiteral":
        return lambda focus, env: []
    raise Unsupported(f"literal {kind}")


def _identifier(node: dict) -> str:
    text = node["children"][0]["terminalNodeText"][0]
    return text.strip("`")


def _invocation(node: dict) -> Fn:
    kind = node["type"]
    if kind == "MemberInvocation":
        return _member(_identifier(node))
    if kind == "FunctionInvocation":
        functn = node["children"][0]
        name = functn["children"][0]["terminalNodeText"][0]
        params = functn["children"][1]["children"] if len(functn["children"]) > 1 else []
        return _function(name, [_compile(p) for p in params])
    if kind == "ThisInvocation":
        return lambda focus, env: [env["$this"]] if env.get("$this") is not None else []
    raise Unsupported(kind)


def _compile(node: dict) -> Fn:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "TermExpression":
        return _compile(children[0])
    if kind == "InvocationTerm":
        return _invocation(children[0])
    if kind == "LiteralTerm":
        return _literal(children[0])
    if kind == "ParenthesizedTerm":
        return _compile(children[0])
    if kind == "ExternalConstantTerm":
        name = children[0]["children"][0]["terminalNodeText"][0].strip("`'")
        if name == "ucum":
            return lambda focus, env: [UCUM]
        if name in ("resource", "rootResource", "context"):
            return lambda focus, env: [env[name]]
        raise Unsupported(f"%{name}")
    if kind == "InvocationExpression":
        base, step = _compile(children[0]), _invocation(children[1])
        return lambda focus, env: step(base(focus, env), env)
    if kind == "IndexerExpression":
        base, index = _compile(children[0]), _compile(children[1])

        def indexer(focus: list, env: dict) -> list:
            items, i = base(focus, env), _singleton(index(focus, env))
            return [items[i]] if type(i) is int and 0 <= i < len(items) else []
        return indexer
    if kind == "PolarityExpression":
        inner = _compile(children[0])
        if node["terminalNodeText"][0] == "+":
            return inner

        def negate(focus: list, env: dict) -> list:
            value = _number(_singleton(inner(focus, env)))
            return [] if value is None else [-value]
        return negate
    if kind in ("AndExpression", "OrExpression", "ImpliesExpression", "EqualityExpression",
                "InequalityExpression", "UnionExpression", "MembershipExpression", "AdditiveExpression"):
        return _binary(node["terminalNodeText"][0], _compile(children[0]), _compile(children[1]))
    raise Unsupported(kind)


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Callable[[Any, dict], bool | None]:
    """A Python function (context node, env) -> True / False / None (empty) for a FHIRPath
    boolean expression. env holds `resource`, `rootResource` and `context` (the %variables)."""
    from fhirpathpy.parser import parse

    try:
        tree = parse(expression)
    except Exception as exc:  # noqa: BLE001 - the parser raises plain Exceptions
        raise Unsupported(f"parse: {exc}") from None
    fn = _compile(tree["children"][0])

    def evaluate(node: Any, env: dict) -> bool | None:
        env["$this"] = node
        result = fn([node], env)
        if not result:
            return None
        if len(result) == 1 and type(result[0]) is bool:
            return result[0]
        raise Unsupported("not a boolean result")

    return evaluate
