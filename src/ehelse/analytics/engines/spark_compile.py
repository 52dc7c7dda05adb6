"""Compile a ViewDefinition to Spark SQL: each resource's rows as one array of structs.

Spark's lateral subqueries cannot carry the correlated nesting the DuckDB form uses, so the
select tree becomes higher-order functions instead (the same algorithm, runner.py):
a select's rows are `array<struct>`; forEach is `flatten(transform(items, (x, i) -> rows
of x))` with `i` as %rowIndex; nested selects and unionAll branches are combined by a cross
product of arrays; forEachOrNull over nothing is one struct of nulls. One `explode` at the
top turns the arrays into rows. Expressions compile as for DuckDB (sql_compile.Compiler)
with the Spark dialect (VARIANT values).
"""

from __future__ import annotations

from ehelse.analytics.engines.fhirpath_parse import Unsupported, parse
from ehelse.analytics.engines.sql_compile import CompiledView, Compiler, Expr, _flat
from ehelse.analytics.viewdefinition import InvalidView, Select


class SparkCompiler(Compiler):
    def compile(self) -> CompiledView:
        d, view = self.d, self.view
        root = Expr("s.r", ftype=view.resource, base=view.resource)
        conditions = [d.resource_type_is("s.r", view.resource)]
        for path in view.where:
            expr = self.expr(parse(path), root, root, "0")
            if expr.ftype not in (None, "boolean"):
                raise InvalidView(f"where path {path!r} must evaluate to a boolean, not {expr.ftype}")
            conditions.append(f"({self.truth(expr)}) IS TRUE")
        names = view.column_names()
        if _flat(view.select):
            # No forEach, unionAll or repeat anywhere: one row per resource, so plain columns
            # (as the DuckDB form), without building an array of structs to explode.
            columns = [f"{self.column_sql(c, root, root, '0')} AS {d.quote(c.name)}" for c in view.columns()]
            return CompiledView(f"SELECT {', '.join(columns)} FROM {self.source} AS s WHERE {' AND '.join(conditions)}",
                                names, self.json_columns)
        rows = self.rows(view.select, root, "0")
        sql = (f"SELECT {', '.join(f'e.v.{d.quote(n)} AS {d.quote(n)}' for n in names)} FROM "
               f"(SELECT explode({rows}) AS v FROM {self.source} AS s WHERE {' AND '.join(conditions)}) AS e")
        return CompiledView(sql, names, self.json_columns)

    def rows(self, select: Select, focus: Expr, row_index: str) -> str:
        if select.repeat is not None:
            raise Unsupported("repeat")
        if select.for_each is None:
            return self.rows_for(select, focus, row_index)
        items = self.as_list(self.expr(parse(select.for_each), focus, focus, row_index))
        x, i = self.fresh("x"), self.fresh("i")
        per_item = self.rows_for(select, Expr(x, ftype=items.ftype, base=items.base), i)
        body = f"flatten(transform({items.sql}, ({x}, {i}) -> {per_item}))"
        if not select.or_null:
            return body
        null_focus = Expr("CAST(NULL AS variant)", ftype=items.ftype, base=items.base)
        own = [(c.name, self.column_sql(c, null_focus, focus, "0")) for c in select.columns]
        own_names = {name for name, _ in own}
        nulls = [(n, f"CAST(NULL AS {self.spark_type(n)})") for n in select.column_names() if n not in own_names]
        return f"(CASE WHEN size({items.sql}) = 0 THEN array({self.struct(own + nulls)}) ELSE {body} END)"

    def rows_for(self, select: Select, node: Expr, row_index: str) -> str:
        own = [(c.name, self.column_sql(c, node, node, row_index)) for c in select.columns]
        result = f"array({self.struct(own or [('u_', '1')])})"
        fields = [name for name, _ in own]
        parts = [(child.column_names(), self.rows(child, node, row_index)) for child in select.selects]
        if select.union_all:
            branches = [self.rows(b, node, row_index) for b in select.union_all]
            parts.append((select.union_all[0].column_names(), f"concat({', '.join(branches)})"))
        for names, part in parts:
            a, b = self.fresh("a"), self.fresh("b")
            pairs = [(f, f"{a}.{self.d.quote(f)}") for f in fields] + [(g, f"{b}.{self.d.quote(g)}") for g in names]
            result = f"flatten(transform({result}, {a} -> transform({part}, {b} -> {self.struct(pairs)})))"
            fields += names
        return result

    def struct(self, pairs: list[tuple[str, str]]) -> str:
        return "named_struct(" + ", ".join(f"{self.d.string(n)}, {sql}" for n, sql in pairs) + ")"

    def spark_type(self, name: str) -> str:
        sql_type, collection = self.column_types.get(name, (None, False))
        return self.d.sql_type(sql_type, collection)

    def column_sql(self, column, focus, resource, row_index):
        # Spark's root lambda has no resource row: %resource is the view's own root, s.r.
        return super().column_sql(column, focus, Expr("s.r", ftype=self.view.resource, base=self.view.resource),
                                  row_index)


def compile_spark(view, dialect, source: str) -> CompiledView:
    return SparkCompiler(view, dialect, source).compile()
