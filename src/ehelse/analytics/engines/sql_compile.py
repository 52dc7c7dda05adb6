"""Compile a ViewDefinition to one SQL query over a table of resources as JSON.

Shared by the DuckDB and Spark engines; a `Dialect` (engines/dialects.py) spells each
primitive (member access, list transform/filter/flatten, casts) for its database.

How FHIRPath maps to SQL (the subset in fhirpath_parse.py):
- an expression is an `Expr`: one JSON value (NULL = empty collection), a list of JSON values,
  or one native SQL scalar (booleans of comparisons, literals, %rowIndex);
- a member path on a non-repeating element stays one value (`r->'subject'`), on a repeating
  one becomes a list; the R4 model (model.py) says which, and gives each element's type so
  columns get SQL types (boolean, bigint, double, varchar) as the runner's Python values;
- a select becomes a lateral subquery: forEach/forEachOrNull unnest the list with each
  element's 0-based index (%rowIndex), nested selects are joined (their cross product),
  unionAll branches are `UNION ALL`ed, forEachOrNull keeps one row of nulls.
What it cannot express (`repeat`, other functions) raises Unsupported; the engines then run
the in-process runner and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ehelse.analytics.engines import model
from ehelse.analytics.engines.fhirpath_parse import Node, Unsupported, parse
from ehelse.analytics.viewdefinition import Column, InvalidView, Select, ViewDefinition

TEXT_TYPES = {"string", "code", "id", "uri", "url", "canonical", "markdown", "date", "dateTime",
              "instant", "time", "oid", "uuid", "base64Binary", "xhtml"}
INT_TYPES = {"integer", "positiveInt", "unsignedInt", "integer64"}


@dataclass(frozen=True, slots=True)
class Expr:
    sql: str
    many: bool = False  # a list of JSON values; else one value (NULL: empty)
    ftype: str | None = None  # FHIR type of the values, when known
    base: str | None = None  # where members are looked up (model.member)
    native: bool = False  # one SQL scalar of the SQL type of ftype, not JSON


@dataclass(slots=True)
class CompiledView:
    sql: str
    columns: list[str]
    json_columns: set[str] = field(default_factory=set)  # JSON text the engine decodes


def sql_type_of(ftype: str | None) -> str | None:
    if ftype == "boolean":
        return "boolean"
    if ftype in INT_TYPES:
        return "bigint"
    if ftype == "decimal":
        return "double"
    if ftype in TEXT_TYPES:
        return "text"
    return None  # complex or unknown: JSON


class Compiler:
    def __init__(self, view: ViewDefinition, dialect: Any, source: str):
        self.view, self.d, self.source = view, dialect, source
        self.counter = 0
        self.json_columns: set[str] = set()
        self.column_types: dict[str, tuple[str | None, bool]] = {}  # name -> (sql type, collection)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- the select tree -------------------------------------------------------------------
    def compile(self) -> CompiledView:
        d, view = self.d, self.view
        root = Expr("s.r", ftype=view.resource, base=view.resource)
        body = self.select_sql(view.select, root, "0")
        conditions = [d.resource_type_is("s.r", view.resource)]
        for path in view.where:
            expr = self.expr(parse(path), root, root, "0")
            if expr.ftype not in (None, "boolean"):
                raise InvalidView(f"where path {path!r} must evaluate to a boolean, not {expr.ftype}")
            conditions.append(f"({self.truth(expr)}) IS TRUE")
        names = view.column_names()
        if _flat(view.select):  # no iteration anywhere: one row per resource, no lateral join
            columns = [f"{self.column_sql(c, root, root, '0')} AS {d.quote(c.name)}" for c in view.columns()]
            sql = f"SELECT {', '.join(columns)} FROM {self.source} AS s WHERE {' AND '.join(conditions)}"
            return CompiledView(sql, names, self.json_columns)
        sql = (f"SELECT {', '.join(f'v.{d.quote(n)}' for n in names)} FROM {self.source} AS s "
               f"{d.lateral_join(body, 'v', outer=False)} WHERE {' AND '.join(conditions)}")
        return CompiledView(sql, names, self.json_columns)

    def select_sql(self, select: Select, focus: Expr, row_index: str) -> str:
        d = self.d
        alias = self.fresh("t")
        if select.repeat is not None:
            raise Unsupported("repeat")
        if select.for_each is not None:
            items = self.as_list(self.expr(parse(select.for_each), focus, focus, row_index))
            source = d.unnest(items.sql, select.or_null, alias)
            node = Expr(f"{alias}.n", ftype=items.ftype, base=items.base)
            index = f"{alias}.i"
        else:
            source, node, index = f"(SELECT 1 AS one) AS {alias}", focus, row_index
        outputs = [f"{self.column_sql(c, node, focus, index)} AS {d.quote(c.name)}" for c in select.columns]
        joins, filters = [], []
        parts = [(child, [child]) for child in select.selects]
        if select.union_all:
            parts.append((select.union_all[0], select.union_all))
        for shape, branches in parts:
            child = self.fresh("c")
            marker = d.quote(f"m_{child}")
            union = " UNION ALL ".join(self.select_columns(b, node, index, marker) for b in branches)
            joins.append(d.lateral_join(union, child, outer=select.or_null))
            outputs += [f"{child}.{d.quote(n)} AS {d.quote(n)}" for n in shape.column_names()]
            if select.or_null:  # nested rows only when the focus is not the null row
                filters.append(f"({child}.{marker} IS NOT NULL OR {alias}.n IS NULL)")
        where = f" WHERE {' AND '.join(filters)}" if filters else ""
        return f"SELECT {', '.join(outputs)} FROM {source} {' '.join(joins)}{where}"

    def select_columns(self, select: Select, focus: Expr, row_index: str, marker: str) -> str:
        inner = self.fresh("b")
        body = self.select_sql(select, focus, row_index)
        names = ", ".join(f"{inner}.{self.d.quote(n)}" for n in select.column_names())
        return f"SELECT {names}, 1 AS {marker} FROM ({body}) AS {inner}"

    def column_sql(self, column: Column, focus: Expr, resource: Expr, row_index: str) -> str:
        d = self.d
        expr = self.expr(parse(column.path), focus, resource, row_index)
        ftype = expr.ftype
        if sql_type_of(ftype) is None:
            self.json_columns.add(column.name)
        self.column_types[column.name] = (sql_type_of(ftype), column.collection)
        if column.collection:
            items = self.as_list(expr)
            x = self.fresh("x")
            return d.transform(items.sql, x, d.cast_json(x, sql_type_of(ftype)))
        if expr.native:
            return expr.sql
        if expr.many:
            message = f"Collection value for column {column.name}: set collection: true"
            return d.cast_json(d.single(expr.sql, message), sql_type_of(ftype))
        return d.cast_json(expr.sql, sql_type_of(ftype))

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: Node, focus: Expr, resource: Expr, row_index: str) -> Expr:
        d = self.d
        kind = node.kind
        if kind == "this":
            return focus
        if kind == "literal":
            return self.literal(node.value)
        if kind == "variable":
            if node.name == "rowIndex":
                return Expr(row_index, ftype="integer", native=True)
            if node.name in ("resource", "rootResource"):
                return resource
            if node.name in self.view.constants:
                return self.literal(self.view.constants[node.name])
            raise InvalidView(f"undefined environment variable: {node.name}")
        if kind == "binary":
            return self.binary(node, focus, resource, row_index)
        base = self.expr(node.base, focus, resource, row_index) if node.base is not None else focus
        if kind == "member":
            if node.base is None and node.name == self.view.resource and focus is resource:
                return focus  # a leading type name: Patient.name
            return self.member(base, node.name)
        if kind == "index":
            position = node.args[0]
            if position.kind == "variable":
                position = Node("literal", value=self.view.constants.get(position.name))
            if position.kind != "literal" or type(position.value) is not int:
                raise Unsupported("indexer that is not an integer literal or constant")
            if position.value >= 2**31:  # past any list: empty (SQL indexes are 32-bit)
                return Expr("NULL", ftype=base.ftype, base=base.base)
            if not base.many:
                return base if position.value == 0 else Expr("NULL", ftype=base.ftype, base=base.base)
            return replace(base, sql=d.element(base.sql, position.value), many=False)
        if kind == "call":
            return self.call(node, base, focus, resource, row_index)
        raise Unsupported(kind)

    def literal(self, value: Any) -> Expr:
        if isinstance(value, bool):
            return Expr("TRUE" if value else "FALSE", ftype="boolean", native=True)
        if isinstance(value, int):
            return Expr(str(value), ftype="integer", native=True)
        if isinstance(value, float):
            return Expr(repr(value), ftype="decimal", native=True)
        if isinstance(value, str):
            return Expr(self.d.string(value), ftype="string", native=True)
        raise Unsupported(f"constant of type {type(value).__name__}")

    def member(self, base: Expr, name: str, key: str | None = None, ftype: str | None = None) -> Expr:
        """`base.name`. With `key` and `ftype` the JSON key is given and its type known: a choice
        element picked by ofType() (`valueQuantity`, Quantity) or a primitive's `_name` (Element)."""
        d = self.d
        if base.native:
            return Expr(d.empty_list(), many=True)
        if base.many:  # each element's member, flattened
            x = self.fresh("x")
            inner = self.member(Expr(x, ftype=base.ftype, base=base.base), name, key, ftype)
            if inner.many:
                return replace(inner, sql=d.flatten(d.transform(base.sql, x, inner.sql)), many=True)
            y = self.fresh("y")
            return replace(inner, sql=d.filter(d.transform(base.sql, x, inner.sql), y, f"{y} IS NOT NULL"),
                           many=True)
        if key is not None:
            return Expr(d.get(base.sql, key), ftype=ftype, base=ftype if (ftype or "")[:1].isupper() else None)
        element = model.member(base.base, name)
        if element is not None and element.choice:  # value without ofType(): every value[x]
            lists = [self.as_list(self.member(base, name, name + t[0].upper() + t[1:], t)).sql
                     for t in element.types]
            return Expr(d.concat_lists(lists), many=True)
        value = d.get(base.sql, name)
        if element is None:  # not in the R4 model: decide array or not per value
            return Expr(d.dynamic_list(value), many=True)
        ftype = element.types[0] if len(element.types) == 1 else None
        if element.repeats:
            return Expr(d.json_array(value), many=True, ftype=ftype, base=element.base)
        return Expr(value, ftype=ftype, base=element.base)

    def call(self, node: Node, base: Expr, focus: Expr, resource: Expr, row_index: str) -> Expr:
        d, name, args = self.d, node.name, node.args
        if name == "ofType":
            type_name = args[0].name if args and args[0].kind == "member" else None
            member = node.base
            if type_name and member is not None and member.kind == "member":
                parent = self.expr(member.base, focus, resource, row_index) if member.base else focus
                element = model.member(parent.base, member.name)
                if element is not None and element.choice:
                    if type_name not in element.types:
                        return Expr(d.empty_list(), many=True)
                    key = member.name + type_name[0].upper() + type_name[1:]
                    return self.member(parent, member.name, key, type_name)
            if type_name and base.ftype == type_name:
                return base
            raise Unsupported("ofType() on a non-choice element")
        if name == "extension":  # FHIRPath extension(url); a primitive's live in `_name`
            holder = base
            member = node.base
            if member is not None and member.kind == "member" and (base.ftype or "")[:1].islower():
                parent = self.expr(member.base, focus, resource, row_index) if member.base else focus
                holder = self.member(parent, member.name, "_" + member.name, "Element")
            url = Node("binary", "=", args=(Node("member", "url"), args[0]))
            return self.where(self.member(holder, "extension"), url, resource, row_index)
        if name == "substring":
            text = self.scalar(base, "text")
            start = self.expr(args[0], focus, resource, row_index).sql
            length = self.expr(args[1], focus, resource, row_index).sql if len(args) > 1 else None
            return Expr(d.substring(text, start, length), ftype="string", native=True)
        if name == "first":
            return replace(base, sql=d.element(base.sql, 0), many=False) if base.many else base
        if name in ("exists", "empty"):
            if args:
                base = self.where(base, args[0], resource, row_index)
            present = f"{d.length(base.sql)} > 0" if base.many else f"{base.sql} IS NOT NULL"
            return Expr(f"({present})" if name == "exists" else f"(NOT ({present}))", ftype="boolean", native=True)
        if name == "not":
            return Expr(f"(NOT ({self.truth(base)}))", ftype="boolean", native=True)
        if name == "where":
            return self.where(base, args[0], resource, row_index)
        if name == "join":
            separator = self.expr(args[0], focus, resource, row_index).sql if args else d.string("")
            items = self.as_list(base)
            x = self.fresh("x")
            return Expr(d.join(d.transform(items.sql, x, d.cast_json(x, "text")), separator),
                        ftype="string", native=True)
        if name == "getResourceKey":
            return self.member(base, "id")
        if name == "getReferenceKey":
            type_name = args[0].name if args else None
            reference = self.member(base, "reference")
            if reference.many:
                x, y = self.fresh("x"), self.fresh("y")
                keys = d.transform(reference.sql, x, d.to_json(d.reference_key(d.cast_json(x, "text"), type_name)))
                return Expr(d.filter(keys, y, f"{y} IS NOT NULL"), many=True, ftype="string")
            return Expr(d.reference_key(d.cast_json(reference.sql, "text"), type_name), ftype="string", native=True)
        raise Unsupported(f"{name}()")

    def where(self, base: Expr, condition: Node, resource: Expr, row_index: str) -> Expr:
        items = self.as_list(base)
        x = self.fresh("x")
        test = self.expr(condition, Expr(x, ftype=items.ftype, base=items.base), resource, row_index)
        return replace(items, sql=self.d.filter(items.sql, x, f"({self.truth(test)}) IS TRUE"))

    def binary(self, node: Node, focus: Expr, resource: Expr, row_index: str) -> Expr:
        left = self.expr(node.args[0], focus, resource, row_index)
        right = self.expr(node.args[1], focus, resource, row_index)
        op = node.name
        if op in ("and", "or"):
            return Expr(f"(({self.truth(left)}) {op.upper()} ({self.truth(right)}))", ftype="boolean", native=True)
        sql_type = self.comparable_type(left, right)
        a, b = self.scalar(left, sql_type), self.scalar(right, sql_type)
        sql_op = {"=": "=", "!=": "<>"}.get(op, op)
        return Expr(f"({a} {sql_op} {b})", ftype="boolean", native=True)

    # -- conversions ----------------------------------------------------------------------
    def comparable_type(self, left: Expr, right: Expr) -> str:
        types = {sql_type_of(left.ftype), sql_type_of(right.ftype)} - {None}
        if {"bigint", "double"} & types and types <= {"bigint", "double"}:
            return "double"
        if len(types) == 1:
            return types.pop()
        return "text"

    def scalar(self, expr: Expr, sql_type: str) -> str:
        if expr.native:
            return self.d.cast_native(expr.sql, sql_type)
        one = self.d.element(expr.sql, 0) if expr.many else expr.sql
        return self.d.cast_json(one, sql_type)

    def truth(self, expr: Expr) -> str:
        return self.scalar(expr, "boolean")

    def as_list(self, expr: Expr) -> Expr:
        if expr.many:
            return expr
        value = self.d.to_json(expr.sql) if expr.native else expr.sql
        return replace(expr, sql=self.d.one_as_list(value), many=True, native=False)


def _flat(select: Select) -> bool:
    return (select.for_each is None and select.repeat is None and not select.union_all
            and all(_flat(child) for child in select.selects))


def compile_view(view: ViewDefinition, dialect: Any, source: str) -> CompiledView:
    """The view as one SQL query over `source` (a table or subquery with a JSON column `r`)."""
    return Compiler(view, dialect, source).compile()
