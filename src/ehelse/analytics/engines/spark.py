"""The Apache Spark engine: a ViewDefinition compiled to Spark SQL over NDJSON.

Local mode by default (`local[2]`); a cluster by its master URL in the `spark_master` setting
(e.g. `spark://host:7077`). Resources are read as text lines (`spark.read.text`) and parsed
to VARIANT (`parse_json`), so no schema inference pass over the data is needed and every
resource type reads alike. Inline and live-database sources are first written to a temporary
NDJSON file, streaming, so memory stays bounded. Compilation: engines/spark_compile.py; a
view it cannot express runs on the in-process runner, and the Result says so.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from typing import Any, Iterator

import orjson

from ehelse.analytics.engines import Result
from ehelse.analytics.engines.dialects import Spark
from ehelse.analytics.engines.fhirpath_parse import Unsupported
from ehelse.analytics.engines.spark_compile import compile_spark

_SESSION: Any = None
_LOCK = threading.Lock()


def session(master: str | None = None) -> Any:
    """One SparkSession per process (starting one costs seconds)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            from pyspark.sql import SparkSession

            from ehelse.settings import get_settings

            master = master or get_settings().spark_master
            _SESSION = (SparkSession.builder.appName("ehelse-analytics").master(master)
                        .config("spark.ui.enabled", "false")
                        .config("spark.ui.showConsoleProgress", "false")  # the CLI shows its own
                        .config("spark.sql.shuffle.partitions", "2")
                        .config("spark.driver.memory", "1g")
                        # 32 MB splits, not 128: an export's NDJSON file is then several tasks,
                        # so local[N] uses its N cores on files of a few hundred MB.
                        .config("spark.sql.files.maxPartitionBytes", str(32 * 2**20))
                        .getOrCreate())
            _SESSION.sparkContext.setLogLevel("ERROR")
        return _SESSION


def stop() -> None:
    global _SESSION
    with _LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None


_ROOT_USE = re.compile(r"\bs\.r\b")
_ROOT_PATH = re.compile(r"try_variant_get\(s\.r, '\$\.([A-Za-z_][A-Za-z0-9_]*)[.']")


def top_level_keys(sql: str, resource_type: str) -> dict[str, bool] | None:
    """The resource's top-level JSON keys the compiled view reads, each with whether its value
    is a JSON string (True) or an object, array, number or boolean (False); None when the view
    uses the resource some other way (the whole resource, %resource as a value, a key the R4
    model does not know), and then every key must be kept. Sound because every use of the
    root `s.r` is checked to be a member path starting at one of these keys."""
    uses = len(_ROOT_USE.findall(sql))
    keys = _ROOT_PATH.findall(sql)
    if uses != len(keys):
        return None
    kinds: dict[str, bool] = {"resourceType": True}
    for key in set(keys) - {"resourceType"}:
        kind = _json_string(resource_type, key)
        if kind is None:
            return None
        kinds[key] = kind
    return kinds


def _json_string(resource_type: str, key: str) -> bool | None:
    from ehelse.analytics.engines import model
    from ehelse.analytics.engines.sql_compile import TEXT_TYPES

    element = model.member(resource_type, key)
    if element is not None and not element.choice:
        return not element.repeats and len(element.types) == 1 and element.types[0] in TEXT_TYPES
    for cut in range(len(key) - 1, 0, -1):  # a choice key: valueQuantity = value + Quantity
        element = model.member(resource_type, key[:cut])
        if element is not None and element.choice:
            wanted = key[cut:]
            for t in element.types:
                if t[:1].upper() + t[1:] == wanted:
                    return t in TEXT_TYPES
            return None
    return None


def pruned_reader(spark: Any, ndjson: list[str], keys: dict[str, bool]) -> str:
    """Read only `keys` of each line with an explicit schema (Spark's JSON reader skips every
    other key without building it), then rebuild a VARIANT object of just those keys, so the
    compiled view runs unchanged on a value a fraction of the resource's size. Each key is
    read as a string: Spark gives an object's or array's JSON text, a number's or boolean's
    literal, a string's content (quoted again here, by the R4 type). FAILFAST: a malformed
    line is an error, as parse_json makes it on the full path."""
    from pyspark.sql.types import StringType, StructField, StructType

    names = sorted(keys)
    schema = StructType([StructField(k, StringType()) for k in names])
    spark.read.schema(schema).option("mode", "FAILFAST").json(ndjson).createOrReplaceTempView("ehelse_pruned")
    pieces = []
    for key in names:
        column = f"`{key}`"
        value = f"substr(to_json(array({column})), 2, length(to_json(array({column}))) - 2)" if keys[key] else column
        pieces.append(f"CASE WHEN {column} IS NULL THEN NULL ELSE concat('\"{key}\":', {value}) END")
    return f"SELECT parse_json(concat('{{', concat_ws(',', {', '.join(pieces)}), '}}')) AS r FROM ehelse_pruned"


def source_sql(spark: Any, source: Any, type: str, workdir: str, keys: dict[str, bool] | None = None) -> str:
    files = source.files()
    parts = []
    if files is None:
        path = os.path.join(workdir, f"{type}.ndjson")
        with open(path, "wb") as f:
            for text in source.iter_json(type):
                f.write(text + b"\n")
        files = ([path], [])
    ndjson, parquet = files
    if ndjson and keys is not None:
        parts.append(pruned_reader(spark, ndjson, keys))
    elif ndjson:
        spark.read.text(ndjson).createOrReplaceTempView("ehelse_ndjson")
        parts.append("SELECT parse_json(value) AS r FROM ehelse_ndjson WHERE trim(value) <> ''")
    if parquet:
        spark.read.parquet(*parquet).createOrReplaceTempView("ehelse_parquet")
        parts.append("SELECT parse_json(resource) AS r FROM ehelse_parquet")
    return "(" + " UNION ALL ".join(parts) + ")"


def run_spark(view: Any, source: Any, *, limit: int | None = None, spark: Any = None, prune: bool = False) -> Result:
    """`prune`: read only the keys the view uses with an explicit schema (pruned_reader).
    Off by default because it measured slower: 7.0 vs 4.9 CPU-seconds (JVM and Python) for the
    flat Observation view over 20,185 Observations (docs/benchmarks.md); Spark's own VARIANT
    parse of the whole line is cheaper than its JSON reader plus rebuilding a small VARIANT."""
    try:
        compiled = compile_spark(view, Spark(), "__SOURCE__")
    except Unsupported as exc:
        from ehelse.analytics.runner import run_view

        rows = run_view(view, source.iter_resources(view.resource), limit=limit)
        return Result(view.column_names(), rows, f"runner (spark fallback: {exc})")
    spark = spark or session()
    workdir = tempfile.mkdtemp(prefix="ehelse-spark-")
    keys = top_level_keys(compiled.sql, view.resource) if prune else None
    sql = compiled.sql.replace("__SOURCE__", source_sql(spark, source, view.resource, workdir, keys))
    if limit is not None:
        sql += f" LIMIT {int(limit)}"

    def save(path: str, fmt: str, header: bool = True) -> int:
        return _save(spark, sql, compiled.columns, compiled.json_columns, view, path, fmt, header, workdir)

    return Result(compiled.columns, _rows(spark, sql, compiled.columns, compiled.json_columns, workdir), "spark", sql,
                  save)


_TYPES = {"boolean": "boolean", "bigint": "bigint", "double": "double", "text": "string"}


def output_column(name: str, kind: str, collection: bool, json: bool, fmt: str) -> str:
    """One column of the file as output.write would write it (the DuckDB engine's
    output_column, in Spark SQL): a JSON value (here JSON text) as a string without quotes
    when it is a string, else its JSON; cast to the view's column type; in CSV a collection is
    its JSON array."""
    column = f"v.{Spark.quote(name)}"
    if collection:
        if fmt == "csv":
            return f"to_json(transform({column}, x -> parse_json(x)))" if json else f"to_json({column})"
        if json:
            column = f"transform({column}, x -> try_variant_get(parse_json(x), '$', 'string'))"
        return f"CAST({column} AS array<{_TYPES[kind]}>)"
    if json:
        column = f"try_variant_get(parse_json({column}), '$', 'string')"
    return f"CAST({column} AS {_TYPES[kind]})"


# One output file: Spark writes a folder of part files, one per partition of the last stage.
# coalesce(1) would also make the read and parse a single task (one core); repartition(1)
# keeps them parallel and adds one small shuffle of the result rows.
SINGLE_FILE = "repartition"


def _save(spark: Any, sql: str, columns: list[str], json_columns: set[str], view: Any, path: str, fmt: str,
          header: bool, workdir: str) -> int:
    """Write the rows with Spark's own writer (DataFrame.write: the JVM writes the file, no row
    goes to Python) into a folder beside `path`, then move its one part file to `path`.
    With a cluster master, `path`'s folder must be shared with the executors (as the source
    files must be). The row count comes from an Observation metric of the same job."""
    import glob
    import shutil

    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from ehelse.analytics.output import column_kinds
    from ehelse.analytics.viewdefinition import InvalidView

    select = ", ".join(f"{output_column(name, kind, collection, name in json_columns, fmt)} AS {Spark.quote(name)}"
                       for name, kind, collection in column_kinds(columns, view))
    target = os.path.abspath(path)
    folder = tempfile.mkdtemp(prefix=".ehelse-spark-", dir=os.path.dirname(target))
    try:
        counted = Observation("ehelse_rows")
        frame = spark.sql(f"SELECT {select} FROM ({sql}) AS v").observe(counted, F.count(F.lit(1)).alias("rows"))
        frame = frame.coalesce(1) if SINGLE_FILE == "coalesce" else frame.repartition(1)
        writer = frame.write.mode("overwrite")
        out = os.path.join(folder, "out")
        if fmt == "parquet":
            writer.parquet(out)
        else:
            # RFC 4180 quoting (a quote doubled, not backslash-escaped), values not trimmed.
            writer.options(header="true" if header else "false", escape='"', ignoreLeadingWhiteSpace="false",
                           ignoreTrailingWhiteSpace="false").csv(out)
        parts = sorted(glob.glob(os.path.join(out, "part-*")))
        if len(parts) != 1:
            raise RuntimeError(f"Spark wrote {len(parts)} part files, expected one")
        os.replace(parts[0], target)
        return int(counted.get["rows"])
    except InvalidView:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("pyspark", "py4j")):  # AnalysisException, raise_error()
            raise InvalidView(str(exc).split("\n", 1)[0][:500]) from None
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _rows(spark: Any, sql: str, columns: list[str], json_columns: set[str], workdir: str) -> Iterator[dict[str, Any]]:
    import shutil

    from ehelse.analytics.viewdefinition import InvalidView

    try:
        # One partition at a time keeps memory bounded; prefetching the next one while this
        # one is read keeps a second core busy (without it, local[2] ran one task at a time).
        for row in spark.sql(sql).toLocalIterator(prefetchPartitions=True):
            yield {name: (_decode(row[name]) if name in json_columns else _plain(row[name])) for name in columns}
    except InvalidView:
        raise
    except Exception as exc:  # AnalysisException, or raise_error() of a Collection value
        raise InvalidView(str(exc).split("\n", 1)[0][:500]) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _decode(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_decode(v) for v in value]
    return orjson.loads(value) if isinstance(value, str) else value
