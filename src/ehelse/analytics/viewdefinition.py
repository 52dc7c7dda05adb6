"""ViewDefinition: parse and validate a SQL on FHIR v2 view into a small tree.

Spec: https://sql-on-fhir.org/ig/latest/StructureDefinition-ViewDefinition.html. A view has
a `resource` type, `constant`s (name + one value[x], used as `%name`), `where` filters and a
`select` tree; each select has `column`s, nested `select`s, at most one of `forEach`,
`forEachOrNull` and `repeat`, and `unionAll` branches that must give the same columns in the
same order. Every engine (runner.py, engines/duckdb.py, engines/spark.py) works on the tree
made here, so a view that passes `parse_view` is one all three understand.

Invalid views raise `InvalidView` (a 400 with an OperationOutcome whose `expression` points
into the view), as the spec's "validation" requirements ask: column names must be valid SQL
names (`^[A-Za-z][A-Za-z0-9_]*$`, the spec's sql-name invariant) and unique, FHIRPath must
parse, `ofType()` must name a type, constants must be defined before use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ehelse.errors import BadRequest

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Variables every evaluation has (FHIRPath's own and %rowIndex, SQL on FHIR v2 "rowIndex").
BUILTIN_VARIABLES = {"rowIndex", "resource", "rootResource", "context", "ucum", "sct", "loinc"}
PRIMITIVES = {"boolean", "string", "integer", "decimal", "date", "dateTime", "time", "instant", "uri",
              "url", "canonical", "code", "id", "oid", "uuid", "markdown", "base64Binary",
              "positiveInt", "unsignedInt", "integer64", "xhtml"}
SYSTEM_TYPES = {"Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity"}
_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)")
_TYPE_ARGUMENT = re.compile(r"\b(?:ofType|is|as|getReferenceKey)\(\s*([^)]*?)\s*\)")


class InvalidView(BadRequest):
    """The ViewDefinition breaks a rule of the spec (400, code invalid)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    path: str
    collection: bool = False
    type: str | None = None  # a FHIR type name; the engines map it to a SQL type


@dataclass(slots=True)
class Select:
    columns: list[Column] = field(default_factory=list)
    selects: list["Select"] = field(default_factory=list)
    union_all: list["Select"] = field(default_factory=list)
    for_each: str | None = None
    or_null: bool = False  # forEachOrNull: one row of nulls when the collection is empty
    repeat: list[str] | None = None

    @property
    def iterates(self) -> bool:
        return self.for_each is not None or self.repeat is not None

    def column_names(self) -> list[str]:
        """The output columns of this select, in the spec's order: own columns, then nested
        selects, then the unionAll branches (all alike, so the first one's)."""
        names = [c.name for c in self.columns]
        for child in self.selects:
            names += child.column_names()
        if self.union_all:
            names += self.union_all[0].column_names()
        return names

    def all_columns(self) -> list[Column]:
        cols = list(self.columns)
        for child in self.selects:
            cols += child.all_columns()
        if self.union_all:
            cols += self.union_all[0].all_columns()
        return cols


@dataclass(slots=True)
class ViewDefinition:
    resource: str
    select: Select  # the view's top-level selects as the children of one root select
    where: list[str] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def column_names(self) -> list[str]:
        return self.select.column_names()

    def columns(self) -> list[Column]:
        return self.select.all_columns()


@lru_cache(maxsize=1)
def known_types() -> frozenset[str]:
    from fhirpathpy.models import models

    return frozenset(models["r4"]["type2Parent"]) | PRIMITIVES | SYSTEM_TYPES


def parse_view(view: Any, *, default_resource: str | None = None) -> ViewDefinition:
    """Check `view` (parsed JSON) against the spec's rules and build its tree."""
    if not isinstance(view, dict):
        raise InvalidView("A ViewDefinition must be a JSON object")
    resource = view.get("resource") or default_resource
    if not isinstance(resource, str) or not resource:
        raise InvalidView("ViewDefinition.resource is required", expression="ViewDefinition.resource")
    from ehelse.fhir.resource_types import is_resource_type

    if not is_resource_type(resource):
        raise InvalidView(f"ViewDefinition.resource {resource!r} is not an R4 resource type",
                          expression="ViewDefinition.resource")
    constants = _constants(view.get("constant"))
    selects = view.get("select")
    if not isinstance(selects, list) or not selects:
        raise InvalidView("ViewDefinition.select needs at least one select", expression="ViewDefinition.select")
    root = Select(selects=[_select(s, f"ViewDefinition.select[{i}]", constants) for i, s in enumerate(selects)])
    where = []
    for i, clause in enumerate(view.get("where") or []):
        where_path = clause.get("path") if isinstance(clause, dict) else None
        _check_path(where_path, f"ViewDefinition.where[{i}].path", constants)
        where.append(where_path)
    seen: set[str] = set()
    for name in root.column_names():
        if name in seen:
            raise InvalidView(f"Column name {name!r} is used twice", expression="ViewDefinition.select")
        seen.add(name)
    return ViewDefinition(resource, root, where, constants, view.get("name"), view)


def _constants(items: Any) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise InvalidView("ViewDefinition.constant must be a list", expression="ViewDefinition.constant")
    constants: dict[str, Any] = {}
    for i, item in enumerate(items):
        where = f"ViewDefinition.constant[{i}]"
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidView("A constant needs a name made of letters, digits and _", expression=where)
        values = [k for k in item if k.startswith("value")]
        if len(values) != 1:
            raise InvalidView(f"Constant {name!r} needs exactly one value[x]", expression=where)
        constants[name] = item[values[0]]
    return constants


def _select(raw: Any, where: str, constants: dict[str, Any]) -> Select:
    if not isinstance(raw, dict):
        raise InvalidView("A select must be an object", expression=where)
    iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in raw]
    if len(iterators) > 1:
        raise InvalidView(f"A select may have only one of forEach, forEachOrNull, repeat (has {iterators})",
                          expression=where)
    select = Select()
    if "forEach" in raw or "forEachOrNull" in raw:
        key = "forEach" if "forEach" in raw else "forEachOrNull"
        _check_path(raw[key], f"{where}.{key}", constants)
        select.for_each, select.or_null = raw[key], key == "forEachOrNull"
    if "repeat" in raw:
        paths = raw["repeat"]
        if not isinstance(paths, list) or not paths:
            raise InvalidView("repeat must be a non-empty list of FHIRPath expressions", expression=f"{where}.repeat")
        for i, path in enumerate(paths):
            _check_path(path, f"{where}.repeat[{i}]", constants)
        select.repeat = list(paths)
    for i, col in enumerate(raw.get("column") or []):
        select.columns.append(_column(col, f"{where}.column[{i}]", constants))
    select.selects = [_select(s, f"{where}.select[{i}]", constants) for i, s in enumerate(raw.get("select") or [])]
    select.union_all = [_select(s, f"{where}.unionAll[{i}]", constants)
                        for i, s in enumerate(raw.get("unionAll") or [])]
    if select.union_all:
        first = select.union_all[0].column_names()
        for i, branch in enumerate(select.union_all[1:], 1):
            if branch.column_names() != first:
                raise InvalidView(f"unionAll columns mismatch: {first} and {branch.column_names()}",
                                  expression=f"{where}.unionAll[{i}]")
    if not select.columns and not select.selects and not select.union_all:
        raise InvalidView("A select needs a column, a select or a unionAll", expression=where)
    return select


def _column(raw: Any, where: str, constants: dict[str, Any]) -> Column:
    if not isinstance(raw, dict):
        raise InvalidView("A column must be an object", expression=where)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidView(f"Column name {name!r} is not a valid SQL name (^[A-Za-z][A-Za-z0-9_]*$)",
                          expression=f"{where}.name")
    _check_path(raw.get("path"), f"{where}.path", constants)
    collection = raw.get("collection", False)
    if not isinstance(collection, bool):
        raise InvalidView("column.collection must be true or false", expression=f"{where}.collection")
    type_ = raw.get("type")
    if type_ is not None and (not isinstance(type_, str) or type_ not in known_types()):
        raise InvalidView(f"column.type {type_!r} is not a FHIR type", expression=f"{where}.type")
    return Column(name, raw["path"], collection, type_)


def _check_path(path: Any, where: str, constants: dict[str, Any]) -> None:
    if not isinstance(path, str) or not path.strip():
        raise InvalidView("A FHIRPath expression (string) is required", expression=where)
    compiled(path)  # raises InvalidView when it does not parse
    for variable in _VARIABLE.findall(_strip_strings(path)):
        if variable not in constants and variable not in BUILTIN_VARIABLES:
            raise InvalidView(f"undefined environment variable: {variable}", expression=where)
    for argument in _TYPE_ARGUMENT.findall(_strip_strings(path)):
        name = argument.removeprefix("FHIR.").removeprefix("System.")
        if argument and name not in known_types():
            raise InvalidView(f"invalid type {argument!r} in {path!r}", expression=where)


def _strip_strings(path: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", path)


@lru_cache(maxsize=4096)
def compiled(path: str):
    """The FHIRPath expression compiled by fhirpathpy with the R4 model and our functions."""
    import fhirpathpy
    from fhirpathpy.models import models

    from ehelse.analytics.fhirpath_functions import FUNCTIONS

    _check_syntax(path)
    stripped = path.strip()
    if stripped == "$this":  # fhirpathpy knows $this only inside function arguments
        return lambda focus, env: list(focus) if isinstance(focus, list) else [focus]
    if stripped.startswith("$this."):
        path = stripped[len("$this."):]
    try:
        # Raw data keeps fhirpathpy's ResourceNodes (value + FHIR path), so a forEach focus
        # still knows its type and `value.ofType(string)` resolves inside it.
        return fhirpathpy.compile(path, models["r4"], {"userInvocationTable": FUNCTIONS, "returnRawData": True})
    except Exception as exc:  # the parser raises several types of its own
        raise InvalidView(f"FHIRPath does not parse: {path!r} ({type(exc).__name__})") from None


def _check_syntax(path: str) -> None:
    """fhirpathpy's parser recovers from syntax errors silently (`name.(` compiles); parse
    again with its grammar and an error listener that refuses, and require all input read."""
    from antlr4 import CommonTokenStream, InputStream, Token
    from antlr4.error.ErrorListener import ErrorListener
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class Refuse(ErrorListener):
        def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
            raise InvalidView(f"FHIRPath does not parse: {path!r} (at {column}: {msg})")

    lexer = FHIRPathLexer(InputStream(path))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Refuse())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Refuse())
    try:
        parser.expression()
    except InvalidView:
        raise
    except Exception as exc:  # the lexer raises its own exceptions on characters it cannot read
        raise InvalidView(f"FHIRPath does not parse: {path!r} ({type(exc).__name__})") from None
    if parser.getCurrentToken().type != Token.EOF:
        raise InvalidView(f"FHIRPath does not parse: {path!r} (unexpected {parser.getCurrentToken().text!r})")
