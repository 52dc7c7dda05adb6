"""How DuckDB and Spark SQL spell the primitives sql_compile.py builds views from.

DuckDB keeps resources as its JSON type (`->` member access, `JSON[]` lists, lambdas:
https://duckdb.org/docs/stable/data/json/json_functions, .../functions/lambda). Spark keeps
them as VARIANT (Spark 4: `variant_get`, `parse_json`; arrays via higher-order functions
`transform`/`filter`/`flatten`: https://spark.apache.org/docs/latest/sql-ref-functions-builtin.html).
"""

from __future__ import annotations

import re

# A literal reference's type and id: [base/]Type/id[/_history/vid] (references.html#literal)
REFERENCE = r"^(?:.*/)?([A-Za-z]+)/([-A-Za-z0-9.]{1,64})(?:/_history/[^/]+)?$"
URN = r"^urn:(?:uuid|oid):(.+)$"


class DuckDB:
    name = "duckdb"

    @staticmethod
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @staticmethod
    def string(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def resource_type_is(self, r: str, type: str) -> str:
        return f"({r}->>'resourceType') = {self.string(type)}"

    def get(self, value: str, key: str) -> str:
        return f"({value}->{self.string(key)})"

    def json_array(self, value: str) -> str:
        return f"coalesce(CAST({value} AS JSON[]), CAST([] AS JSON[]))"

    def dynamic_list(self, value: str) -> str:
        return (f"(CASE WHEN {value} IS NULL OR json_type({value}) = 'NULL' THEN CAST([] AS JSON[]) "
                f"WHEN json_type({value}) = 'ARRAY' THEN CAST({value} AS JSON[]) ELSE [{value}] END)")

    def one_as_list(self, value: str) -> str:
        return f"(CASE WHEN {value} IS NULL THEN CAST([] AS JSON[]) ELSE [{value}] END)"

    def empty_list(self) -> str:
        return "CAST([] AS JSON[])"

    def concat_lists(self, lists: list[str]) -> str:
        return f"flatten([{', '.join(lists)}])"

    def transform(self, items: str, var: str, body: str) -> str:
        return f"list_transform({items}, lambda {var}: {body})"

    def filter(self, items: str, var: str, body: str) -> str:
        return f"list_filter({items}, lambda {var}: {body})"

    def flatten(self, items: str) -> str:
        return f"flatten({items})"

    def element(self, items: str, index: int) -> str:
        return f"({items})[{index + 1}]"

    def length(self, items: str) -> str:
        return f"len({items})"

    def single(self, items: str, message: str) -> str:
        return (f"(CASE WHEN len({items}) > 1 THEN CAST(error({self.string(message)}) AS JSON) "
                f"ELSE ({items})[1] END)")

    def join(self, items: str, separator: str) -> str:
        return f"array_to_string({items}, {separator})"

    def to_json(self, value: str) -> str:
        return f"to_json({value})"

    def substring(self, text: str, start: str, length: str | None) -> str:
        # FHIRPath substring() is 0-based; SQL's is 1-based. Both spell it substring.
        if length is None:
            return f"substring({text}, ({start}) + 1)"
        return f"substring({text}, ({start}) + 1, {length})"

    def cast_json(self, value: str, sql_type: str | None) -> str:
        if sql_type == "text":
            return f"({value}->>'$')"
        if sql_type == "boolean":
            return f"TRY_CAST({value} AS BOOLEAN)"
        if sql_type == "bigint":
            return f"TRY_CAST({value} AS BIGINT)"
        if sql_type == "double":
            return f"TRY_CAST({value} AS DOUBLE)"
        return f"CAST({value} AS VARCHAR)"

    def cast_native(self, value: str, sql_type: str) -> str:
        names = {"text": "VARCHAR", "boolean": "BOOLEAN", "bigint": "BIGINT", "double": "DOUBLE"}
        return f"TRY_CAST({value} AS {names[sql_type]})"

    def reference_key(self, text: str, type_name: str | None) -> str:
        key = f"nullif(regexp_extract({text}, {self.string(REFERENCE)}, 2), '')"
        if type_name is not None:
            return (f"(CASE WHEN regexp_extract({text}, {self.string(REFERENCE)}, 1) = "
                    f"{self.string(type_name)} THEN {key} END)")
        return f"coalesce({key}, nullif(regexp_extract({text}, {self.string(URN)}, 1), ''))"

    def unnest(self, items: str, or_null: bool, alias: str) -> str:
        if or_null:
            items = f"(CASE WHEN len({items}) = 0 THEN [CAST(NULL AS JSON)] ELSE {items} END)"
        return (f"(SELECT unnest(l) AS n, unnest(range(len(l))) AS i FROM (SELECT {items} AS l)) AS {alias}")

    def lateral_join(self, body: str, alias: str, *, outer: bool) -> str:
        return f"{'LEFT ' if outer else ''}JOIN LATERAL ({body}) AS {alias} ON TRUE"


class VariantPath(str):
    """`try_variant_get(base, '$.a.b', 'variant')` that remembers its base and JSON path, so a
    member of it, or its cast to a SQL type, extends the one path instead of nesting another
    variant_get: each nested get with type 'variant' builds a new VARIANT value, which made
    most of Spark's time on a flat view (same values: a missing, null or non-object step gives
    NULL either way)."""

    base: str
    path: str


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Spark(DuckDB):
    """Spark SQL over VARIANT values; lists are array<variant>."""

    name = "spark"
    EMPTY = "CAST(array() AS array<variant>)"

    @staticmethod
    def quote(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    @staticmethod
    def string(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def resource_type_is(self, r: str, type: str) -> str:
        return f"try_variant_get({r}, '$.resourceType', 'string') = {self.string(type)}"

    def get(self, value: str, key: str) -> str:
        if not _KEY.match(key):
            return f"try_variant_get({value}, {self.string('$.' + key)}, 'variant')"
        base, path = (value.base, value.path) if isinstance(value, VariantPath) else (value, "$")
        path += "." + key
        merged = VariantPath(f"try_variant_get({base}, {self.string(path)}, 'variant')")
        merged.base, merged.path = base, path
        return merged

    def json_array(self, value: str) -> str:
        return f"coalesce(try_cast({value} AS array<variant>), {self.EMPTY})"

    def dynamic_list(self, value: str) -> str:
        return (f"(CASE WHEN {value} IS NULL OR is_variant_null({value}) THEN {self.EMPTY} "
                f"WHEN schema_of_variant({value}) LIKE 'ARRAY%' THEN CAST({value} AS array<variant>) "
                f"ELSE array({value}) END)")

    def one_as_list(self, value: str) -> str:
        return f"(CASE WHEN {value} IS NULL THEN {self.EMPTY} ELSE array({value}) END)"

    def empty_list(self) -> str:
        return self.EMPTY

    def concat_lists(self, lists: list[str]) -> str:
        return f"concat({', '.join(lists)})"

    def transform(self, items: str, var: str, body: str) -> str:
        return f"transform({items}, {var} -> {body})"

    def filter(self, items: str, var: str, body: str) -> str:
        return f"filter({items}, {var} -> {body})"

    def element(self, items: str, index: int) -> str:
        return f"try_element_at({items}, {index + 1})"

    def length(self, items: str) -> str:
        return f"size({items})"

    def single(self, items: str, message: str) -> str:
        return (f"(CASE WHEN size({items}) > 1 THEN CAST(raise_error({self.string(message)}) AS variant) "
                f"ELSE try_element_at({items}, 1) END)")

    def join(self, items: str, separator: str) -> str:
        return f"array_join({items}, {separator})"

    def to_json(self, value: str) -> str:
        return f"CAST({value} AS variant)"

    def cast_json(self, value: str, sql_type: str | None) -> str:
        names = {"text": "string", "boolean": "boolean", "bigint": "bigint", "double": "double"}
        if sql_type in names and isinstance(value, VariantPath):
            return f"try_variant_get({value.base}, {self.string(value.path)}, '{names[sql_type]}')"
        if sql_type in names:
            return f"try_variant_get({value}, '$', '{names[sql_type]}')"
        return f"to_json({value})"

    def cast_native(self, value: str, sql_type: str) -> str:
        names = {"text": "STRING", "boolean": "BOOLEAN", "bigint": "BIGINT", "double": "DOUBLE"}
        return f"try_cast({value} AS {names[sql_type]})"

    def sql_type(self, sql_type: str | None, collection: bool) -> str:
        name = {"text": "string", "boolean": "boolean", "bigint": "bigint", "double": "double"}.get(sql_type or "", "string")
        return f"array<{name}>" if collection else name
