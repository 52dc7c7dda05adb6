"""The Apache Spark engine: a ViewDefinition compiled to Spark SQL over NDJSON.

Local mode by default (`local[2]`); a cluster by its master URL in the `spark_master` setting
(e.g. `spark://host:7077`). NDJSON (Bulk Data's output format,
https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-output-file-format) is read by Spark's
JSON reader with a schema of only the paths the view reads (typed_schema), or, when the view
uses the resource whole, as text lines parsed to VARIANT (`parse_json`); never with a schema
inference pass over the data. Inline and live-database sources are first written to a
temporary NDJSON file, streaming, so memory stays bounded. Compilation:
engines/spark_compile.py; a view it cannot express runs on the in-process runner, and the
Result says so. Files are written by Spark itself (Result.save, _save).
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
_ROOT_PATH = re.compile(r"try_variant_get\(s\.r, '\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)', "
                        r"'(string|double|bigint|boolean|variant)'\)")


class _Node:
    __slots__ = ("children", "uses")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.uses: set[str] = set()  # the types this exact path is read as


def typed_schema(sql: str) -> tuple[str, str] | None:
    """The JSON reader's schema for just the paths the compiled view reads, and the view's SQL
    rewritten to read them; None when the view uses the resource some other way (the whole
    resource, %resource as a value), and then the whole line is parsed to VARIANT.

    Every use of the root `s.r` must be a member path `try_variant_get(s.r, '$.a.b', TYPE)`
    (the Spark dialect merges member steps into one path). The paths form a tree: a path read
    only as a primitive (string, double, bigint, boolean) and not below it is a string field
    (Spark's JSON reader gives a number's or boolean's literal text, an object's JSON, so the
    same try_cast as VARIANT's gives the same value); a path read as a VARIANT, or read itself
    and also below, is a VARIANT field (the reader builds a VARIANT of that subtree only) and
    the reads at or below it become try_variant_get on it; any other path is a struct of its
    children. Every key the view does not read is skipped by the reader without being built."""
    matches = _ROOT_PATH.findall(sql)
    if not matches or len(_ROOT_USE.findall(sql)) != len(matches):
        return None
    root = _Node()
    for path, kind in matches:
        node = root
        for key in path[1:].split("."):
            node = node.children.setdefault(key, _Node())
        node.uses.add(kind)
    rewrite: dict[tuple[str, str], str] = {}

    def field(node: _Node, keys: list[str]) -> str:
        column = "s." + ".".join(Spark.quote(k) for k in keys)
        if node.children and not node.uses:
            return "struct<" + ", ".join(f"{Spark.quote(k)}: {field(child, keys + [k])}"
                                         for k, child in node.children.items()) + ">"
        if node.children or "variant" in node.uses:
            def below(n: _Node, rest: list[str]) -> None:
                for kind in n.uses:
                    path = "$" + "".join("." + k for k in rest)
                    rewrite[("." + ".".join(keys + rest), kind)] = (
                        column if kind == "variant" and not rest else f"try_variant_get({column}, '{path}', '{kind}')")
                for k, child in n.children.items():
                    below(child, rest + [k])
            below(node, [])
            return "variant"
        for kind in node.uses:
            rewrite[("." + ".".join(keys), kind)] = column if kind == "string" else f"try_cast({column} AS {kind})"
        return "string"

    schema = ", ".join(f"{Spark.quote(k)} {field(child, [k])}" for k, child in root.children.items())
    sql = _ROOT_PATH.sub(lambda m: rewrite[(m.group(1), m.group(2))], sql)
    return schema, sql


def source_sql(spark: Any, source: Any, type: str, workdir: str, schema: str | None = None) -> str:
    """The resources as a subquery: `r`, each line parsed to VARIANT, or with `schema`
    (typed_schema) the columns Spark's JSON reader gives for it."""
    files = source.files()
    parts = []
    if files is None:
        path = os.path.join(workdir, f"{type}.ndjson")
        with open(path, "wb") as f:
            for text in source.iter_json(type):
                f.write(text + b"\n")
        files = ([path], [])
    ndjson, parquet = files
    if schema is not None:
        # FAILFAST: a malformed line, or a value of another JSON shape than the R4 type gives
        # (an array for an object), is an error, as parse_json makes a malformed line one.
        spark.read.schema(schema).option("mode", "FAILFAST").json(ndjson).createOrReplaceTempView("ehelse_typed")
        return "ehelse_typed"
    if ndjson:
        spark.read.text(ndjson).createOrReplaceTempView("ehelse_ndjson")
        parts.append("SELECT parse_json(value) AS r FROM ehelse_ndjson WHERE trim(value) <> ''")
    if parquet:
        spark.read.parquet(*parquet).createOrReplaceTempView("ehelse_parquet")
        parts.append("SELECT parse_json(resource) AS r FROM ehelse_parquet")
    return "(" + " UNION ALL ".join(parts) + ")"


def run_spark(view: Any, source: Any, *, limit: int | None = None, spark: Any = None, reader: str = "typed") -> Result:
    """`reader`: "typed" (the default) reads NDJSON with Spark's JSON reader and a schema of
    only the paths the view reads (typed_schema), when the view reads the resource only by
    member paths and the source has no Parquet; else, or with "variant", each line is parsed
    whole to VARIANT. Measured (docs/benchmarks.md, issue 9 third session): the typed read
    costs about half the CPU of the whole-line VARIANT parse for the flat Observation view."""
    try:
        compiled = compile_spark(view, Spark(), "__SOURCE__")
    except Unsupported as exc:
        from ehelse.analytics.runner import run_view

        rows = run_view(view, source.iter_resources(view.resource), limit=limit)
        return Result(view.column_names(), rows, f"runner (spark fallback: {exc})")
    spark = spark or session()
    workdir = tempfile.mkdtemp(prefix="ehelse-spark-")
    files = source.files()
    typed = typed_schema(compiled.sql) if reader == "typed" and not (files and files[1]) else None
    if typed is not None:
        schema, sql = typed
        sql = sql.replace("__SOURCE__", source_sql(spark, source, view.resource, workdir, schema))
    else:
        sql = compiled.sql.replace("__SOURCE__", source_sql(spark, source, view.resource, workdir))
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
        rows = spark.sql(sql).toLocalIterator(prefetchPartitions=True)
        if not json_columns:
            # A Row is a tuple in column order (row[name] searches the names per call) and
            # pyspark gives arrays as lists: zip them, no call per value.
            for row in rows:
                yield dict(zip(columns, row))
            return
        convert = [_decode if name in json_columns else _plain for name in columns]
        for row in rows:
            yield {name: f(value) for name, f, value in zip(columns, convert, row)}
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
