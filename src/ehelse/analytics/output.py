"""Write a view's rows: CSV, NDJSON, JSON or Parquet, streaming in batches.

Parquet columns get Arrow types from the view's column types (boolean, int64, float64,
lists for `collection: true`, else string; untyped complex values as JSON text), so an
empty first batch or a column of nulls does not change the file's schema.
"""

from __future__ import annotations

import csv
import io
from itertools import islice
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from ehelse.analytics.engines.sql_compile import INT_TYPES
from ehelse.errors import BadRequest

FORMATS = {"csv": "text/csv", "ndjson": "application/x-ndjson", "json": "application/json",
           "parquet": "application/vnd.apache.parquet"}
BATCH = 10_000


def format_of(path: str) -> str:
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in FORMATS:
        raise BadRequest(f"Output {path!r}: use .csv, .ndjson, .json or .parquet")
    return suffix


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # JSON's spelling, not Python's
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def write(rows: Iterable[dict[str, Any]], columns: list[str], out: BinaryIO, fmt: str, *,
          view: Any = None, header: bool = True) -> int:
    """Write the rows to the binary stream `out`; returns the row count."""
    if fmt == "parquet":
        return _parquet(rows, columns, out, view)
    count = 0
    if fmt == "json":
        out.write(b"[")
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True) if fmt == "csv" else None
    writer = csv.writer(text) if text else None
    if writer and header:
        writer.writerow(columns)
    for row in rows:
        if writer:
            writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
        elif fmt == "ndjson":
            out.write(orjson.dumps(row) + b"\n")
        else:
            out.write((b"," if count else b"") + orjson.dumps(row))
        count += 1
    if fmt == "json":
        out.write(b"]")
    if text:
        text.detach()
    return count


def arrow_schema(columns: list[str], view: Any) -> Any:
    import pyarrow as pa

    types = {}
    for column in (view.columns() if view is not None else []):
        base = {"boolean": pa.bool_(), "decimal": pa.float64()}.get(column.type or "", pa.string())
        if column.type in INT_TYPES:
            base = pa.int64()
        types[column.name] = pa.list_(base) if column.collection else base
    return pa.schema([(c, types.get(c, pa.string())) for c in columns])


def column_kinds(columns: list[str], view: Any) -> list[tuple[str, str, bool]]:
    """(name, kind, collection) of each column as arrow_schema types it, kind one of boolean,
    bigint, double, text: the engines' own writers (Result.save) cast to these, so a Parquet
    file has the same schema whichever engine wrote it."""
    import pyarrow as pa

    kinds = []
    for field in arrow_schema(columns, view):
        t = field.type.value_type if pa.types.is_list(field.type) else field.type
        kind = ("boolean" if pa.types.is_boolean(t) else "bigint" if pa.types.is_integer(t)
                else "double" if pa.types.is_floating(t) else "text")
        kinds.append((field.name, kind, pa.types.is_list(field.type)))
    return kinds


def _parquet(rows: Iterable[dict[str, Any]], columns: list[str], out: BinaryIO, view: Any) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns, view)
    strings = {f.name for f in schema if pa.types.is_string(f.type)}
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        for batch in _batches(iter(rows)):
            data = {c: [(_cell(r.get(c)) if c in strings and not isinstance(r.get(c), str) and r.get(c) is not None
                         else r.get(c)) for r in batch] for c in columns}
            for c in strings:
                data[c] = [None if v is None else str(v) for v in data[c]]
            writer.write_table(pa.table(data, schema=schema))
            count += len(batch)
    return count


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, BATCH)):
        yield batch
