"""Engines that run a ViewDefinition: `runner` (in process), `duckdb`, `spark`.

`run(view, source, engine=...)` gives a `Result` (columns, rows, which engine ran). The SQL
engines compile the view (sql_compile.py); a view they cannot compile runs on the in-process
runner instead, and `Result.engine` says so ("runner (duckdb fallback: repeat)").

A compiled view's Result can also `save` itself to a Parquet or CSV file with the engine's own
writer (DuckDB `COPY ... TO`, Spark `DataFrame.write`): the rows never pass through Python,
which for Spark means no transfer from the JVM at all. `rows` and `save` are alternatives:
use one of them, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

ENGINES = ("runner", "duckdb", "spark")
NATIVE_FORMATS = ("parquet", "csv")  # what Result.save writes


@dataclass(slots=True)
class Result:
    columns: list[str]
    rows: Iterator[dict[str, Any]]
    engine: str
    sql: str | None = None
    # save(path, fmt, header) -> row count: the engine writes the file itself (fmt in
    # NATIVE_FORMATS); None when the rows come from the in-process runner.
    save: Callable[[str, str, bool], int] | None = None


def run(view: Any, source: Any, *, engine: str = "duckdb", limit: int | None = None, **options: Any) -> Result:
    if engine == "runner":
        from ehelse.analytics.runner import run_view

        return Result(view.column_names(), run_view(view, source.iter_resources(view.resource), limit=limit), "runner")
    if engine == "duckdb":
        from ehelse.analytics.engines.duckdb import run_duckdb

        return run_duckdb(view, source, limit=limit, **options)
    if engine == "spark":
        from ehelse.analytics.engines.spark import run_spark

        return run_spark(view, source, limit=limit, **options)
    from ehelse.errors import BadRequest

    raise BadRequest(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
