"""The DuckDB engine: a ViewDefinition compiled to one DuckDB SQL query over JSON.

Sources: NDJSON (`read_json_objects`, https://duckdb.org/docs/stable/data/json/loading_json)
and Parquet (`read_parquet`) are read by DuckDB directly; inline resources and the live
database are staged: streamed as JSON text through Arrow record batches into a temporary
table. (DuckDB's sqlite scanner is an extension fetched from DuckDB's own server at run
time, not from PyPI, so it cannot be relied on offline; staging also works for PostgreSQL.)
A view the compiler cannot express runs on the in-process runner, and the Result says so.
"""

from __future__ import annotations

from typing import Any, Iterator

import orjson

from ehelse.analytics.engines import Result
from ehelse.analytics.engines.dialects import DuckDB
from ehelse.analytics.engines.fhirpath_parse import Unsupported
from ehelse.analytics.engines.sql_compile import compile_view

BATCH = 10_000


def connect() -> Any:
    import duckdb

    return duckdb.connect()


def source_sql(connection: Any, source: Any, type: str) -> str:
    """A subquery with one JSON column `r` holding the source's resources."""
    files = source.files()
    if files is not None:
        ndjson, parquet = files
        parts = []
        if ndjson:
            parts.append(f"SELECT json AS r FROM read_json_objects({_list(ndjson)}, format='newline_delimited')")
        if parquet:
            parts.append(f"SELECT CAST(resource AS JSON) AS r FROM read_parquet({_list(parquet)})")
        return "(" + " UNION ALL ".join(parts) + ")"
    import pyarrow as pa

    table = f"staged_{type.lower()}"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} (r JSON)")
    batch: list[str] = []
    for text in source.iter_json(type):
        batch.append(text.decode())
        if len(batch) >= BATCH:
            _append(connection, table, pa.table({"r": batch}))
            batch = []
    if batch:
        _append(connection, table, pa.table({"r": batch}))
    return table


def _append(connection: Any, table: str, arrow_table: Any) -> None:
    connection.register("staging_batch", arrow_table)
    connection.execute(f"INSERT INTO {table} SELECT CAST(r AS JSON) FROM staging_batch")
    connection.unregister("staging_batch")


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def run_duckdb(view: Any, source: Any, *, limit: int | None = None, connection: Any = None) -> Result:
    try:
        compiled = compile_view(view, DuckDB(), "__SOURCE__")
    except Unsupported as exc:
        from ehelse.analytics.runner import run_view

        rows = run_view(view, source.iter_resources(view.resource), limit=limit)
        return Result(view.column_names(), rows, f"runner (duckdb fallback: {exc})")
    connection = connection or connect()
    sql = compiled.sql.replace("__SOURCE__", source_sql(connection, source, view.resource))
    if limit is not None:
        sql += f" LIMIT {int(limit)}"

    def save(path: str, fmt: str, header: bool = True) -> int:
        return _save(connection, sql, compiled.columns, compiled.json_columns, view, path, fmt, header)

    return Result(compiled.columns, _rows(connection, sql, compiled.columns, compiled.json_columns), "duckdb", sql,
                  save)


_TYPES = {"boolean": "BOOLEAN", "bigint": "BIGINT", "double": "DOUBLE", "text": "VARCHAR"}


def output_column(name: str, kind: str, collection: bool, json: bool, fmt: str) -> str:
    """One column of the file as output.write would write it: a JSON value as its text (a
    string without its quotes: `->>'$'`), cast to the view's column type; in CSV a collection
    is its JSON array."""
    column = f"v.{DuckDB.quote(name)}"
    if collection:
        if fmt == "csv":
            return f"to_json({column})"
        if json:
            column = f"list_transform({column}, lambda x: x->>'$')"
        return f"CAST({column} AS {_TYPES[kind]}[])"
    if json:
        column = f"({column}->>'$')"
    return f"CAST({column} AS {_TYPES[kind]})"


def _save(connection: Any, sql: str, columns: list[str], json_columns: set[str], view: Any, path: str, fmt: str,
          header: bool) -> int:
    """COPY (the view's query) TO the file: DuckDB writes it (https://duckdb.org/docs/stable/sql/statements/copy)
    without one row passing through Python."""
    from ehelse.analytics.output import column_kinds
    from ehelse.analytics.viewdefinition import InvalidView

    select = ", ".join(f"{output_column(name, kind, collection, name in json_columns, fmt)} AS {DuckDB.quote(name)}"
                       for name, kind, collection in column_kinds(columns, view))
    options = "FORMAT parquet" if fmt == "parquet" else f"FORMAT csv, HEADER {'true' if header else 'false'}"
    target = path.replace("'", "''")
    try:
        (count,) = connection.execute(f"COPY (SELECT {select} FROM ({sql}) AS v) TO '{target}' ({options})").fetchone()
    except Exception as exc:  # duckdb.Error: the view's data broke a rule (e.g. Collection value)
        raise InvalidView(_message(exc)) from None
    return int(count)


def _rows(connection: Any, sql: str, columns: list[str], json_columns: set[str]) -> Iterator[dict[str, Any]]:
    from ehelse.analytics.viewdefinition import InvalidView

    try:
        cursor = connection.execute(sql)
    except Exception as exc:  # duckdb.Error: the view's data broke a rule (e.g. Collection value)
        raise InvalidView(_message(exc)) from None
    decode = [name in json_columns for name in columns]
    while True:
        try:
            batch = cursor.fetchmany(BATCH)
        except Exception as exc:
            raise InvalidView(_message(exc)) from None
        if not batch:
            return
        for values in batch:
            yield {name: (_decode(value) if json else value)
                   for name, value, json in zip(columns, values, decode)}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return orjson.loads(value) if isinstance(value, str) else value


def _message(exc: Exception) -> str:
    text = str(exc)
    return text.split("\n", 1)[0][:500]
