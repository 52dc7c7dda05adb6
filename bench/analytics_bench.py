"""SQL on FHIR speed: a flat Observation view over a seeded population's NDJSON, on DuckDB
and on Spark, against a hand-written DuckDB query over the same NDJSON (target: the compiled
view within 2x of the hand-written SQL).

    .venv/bin/python bench/analytics_bench.py                    # 10,000 patients (cached seed)
    .venv/bin/python bench/analytics_bench.py --patients 1000
    .venv/bin/python bench/analytics_bench.py --ndjson /tmp/export/system/Observation.ndjson --patients 10000
    .venv/bin/python bench/analytics_bench.py --quick            # 30 patients, no Spark: smoke test

Two measures, both printed, in the same run:
- into Python rows: the engine's compile, DuckDB's (or Spark's) read and parse of the NDJSON,
  and fetching every row into Python (the hand-written query fetches tuples, the engine dicts,
  what its callers get; for Spark every row crosses from the JVM to Python);
- into a Parquet file (`*_parquet_*` keys): what `ehelse analytics run VIEW --out X.parquet`
  pays: the hand-written query as `COPY (query) TO 'x.parquet'`, the views through
  Result.save (DuckDB `COPY ... TO`, Spark `DataFrame.write`; no row passes through Python).
Each DuckDB figure is the best of --repeat runs. CPU seconds are this process's plus its
descendants' (Spark's JVM is a child process: its CPU is read from /proc/<pid>/stat), so on a
shared machine the CPU ratio is the fair one.

Spark (`local[2]` unless --spark-master; the default typed read, engines/spark.py
typed_schema, and with --spark-variant-read also the whole-line VARIANT parse) is reported in
three parts, so JVM start and JIT
warm-up are not mistaken for the engine: the session start (JVM and SparkContext), the first
run (cold JIT), and the warm figure (best of --spark-repeat further runs in the same session),
whose ratio to the hand-written DuckDB query is the one the target is about.

The NDJSON is either --ndjson (e.g. the Observation file of `bench/export_bench.py --keep`)
or the Observations of bench/search_bench.py's cached seed (same key), read from it
read-only: the cache is shared and never written; a file still being built is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_bench import sqlite_cache  # noqa: E402

FLAT_OBSERVATION = {
    "resourceType": "ViewDefinition", "name": "observation_flat", "resource": "Observation", "status": "active",
    "select": [{"column": [
        {"name": "id", "path": "getResourceKey()", "type": "id"},
        {"name": "patient_id", "path": "subject.getReferenceKey(Patient)", "type": "id"},
        {"name": "status", "path": "status", "type": "code"},
        {"name": "code_system", "path": "code.coding.system.first()", "type": "uri"},
        {"name": "code", "path": "code.coding.code.first()", "type": "code"},
        {"name": "name", "path": "code.text", "type": "string"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "unit", "path": "value.ofType(Quantity).unit", "type": "string"},
        {"name": "effective", "path": "effective.ofType(dateTime)", "type": "dateTime"},
    ]}],
}

# What an analyst would write by hand over the same file: the same nine columns.
HAND_WRITTEN = """
SELECT json->>'id' AS id,
       regexp_extract(json->'subject'->>'reference', '^Patient/(.+)$', 1) AS patient_id,
       json->>'status' AS status,
       json->'code'->'coding'->0->>'system' AS code_system,
       json->'code'->'coding'->0->>'code' AS code,
       json->'code'->>'text' AS name,
       TRY_CAST(json->'valueQuantity'->'value' AS DOUBLE) AS value,
       json->'valueQuantity'->>'unit' AS unit,
       json->>'effectiveDateTime' AS effective
FROM read_json_objects('{path}', format='newline_delimited')
WHERE json->>'resourceType' = 'Observation'
"""


def export_observations(db: Path, folder: Path) -> tuple[Path, int]:
    """The current Observations of `db` as one NDJSON file, read through a read-only
    connection (the cached seed is shared: no schema check, no WAL write)."""
    import sqlite3

    connection = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
    path, count = folder / "Observation.ndjson", 0
    with path.open("wb") as f:
        for (content,) in connection.execute(
                "SELECT content FROM resource WHERE type = 'Observation' AND NOT deleted ORDER BY id"):
            f.write(content + b"\n")
            count += 1
    connection.close()
    return path, count


def cached_seed(patients: int, seed: int, quick: bool, tmp: Path) -> Path:
    from bench.search_bench import CACHE

    if quick:
        return sqlite_cache(patients, seed, True, tmp)
    path = CACHE / f"search-n{patients}-s{seed}.sqlite"
    if path.exists() and not path.with_suffix(".done").exists():
        raise SystemExit(f"{path} is still being built (no .done marker yet); try later or pass --ndjson")
    return sqlite_cache(patients, seed, False)


def _descendants_cpu() -> float:
    """CPU seconds (user + system) of this process's descendants, from /proc: Spark's JVM is
    a child process, and on a shared machine CPU time is the fair measure of its work."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    return sum(cpu[pid] for pid in mine)


def cpu_now() -> float:
    return time.process_time() + _descendants_cpu()


def best(function, repeat: int) -> tuple[float, int]:
    return best_with_cpu(function, repeat)[0::2]


def best_with_cpu(function, repeat: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and its children, rows) of the fastest run."""
    runs, rows = [], 0
    for _ in range(repeat):
        cpu, started = cpu_now(), time.perf_counter()
        rows = function()
        runs.append((time.perf_counter() - started, cpu_now() - cpu))
    wall, cpu = min(runs)
    return wall, cpu, rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="30 patients, one repeat, no Spark")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--no-runner", action="store_true", help="skip the in-process runner (slow)")
    parser.add_argument("--ndjson", type=Path, default=None, help="an Observation NDJSON file to use")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-repeat", type=int, default=2, help="warm Spark runs after the first")
    parser.add_argument("--spark-variant-read", action="store_true",
                        help="also time Spark's whole-line VARIANT parse (reader='variant', the fallback of the "
                             "default typed read), both measures")
    parser.add_argument("--spark-single-file", choices=("repartition", "coalesce"), default=None,
                        help="how Spark makes one Parquet file (engines/spark.py SINGLE_FILE)")
    parser.add_argument("--output", type=Path, default=None, help="write the report as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.repeat, args.no_spark = 30, 1, True

    import duckdb

    from ehelse.analytics.engines import run
    from ehelse.analytics.sources import FileSource
    from ehelse.analytics.viewdefinition import parse_view

    with tempfile.TemporaryDirectory(prefix="ehelse-analytics-bench-") as tmp:
        if args.ndjson:
            ndjson = args.ndjson
            with ndjson.open("rb") as f:
                resources = sum(1 for line in f if line.strip())
        else:
            db = cached_seed(args.patients, args.seed, args.quick, Path(tmp))
            ndjson, resources = export_observations(db, Path(tmp))
        view = parse_view(FLAT_OBSERVATION)
        source = FileSource([ndjson])
        connection = duckdb.connect()

        def hand() -> int:
            return len(connection.execute(HAND_WRITTEN.format(path=ndjson)).fetchall())

        def engine(name: str, **options) -> int:
            result = run(view, source, engine=name, **options)
            assert name == "runner" or result.engine == name, result.engine
            return sum(1 for _ in result.rows)

        report: dict = {"benchmark": "analytics", "patients": args.patients, "observations": resources,
                        "ndjson_mb": round(ndjson.stat().st_size / 2**20, 1)}

        def measure(key: str, run_once, repeat: int, base: str | None = None, name: str | None = None) -> int:
            """Best of `repeat` runs as report[key_s] and [key_cpu_s]; against `base` (a key
            measured before) also ratio_<name>_to_hand and its _cpu. Returns the rows."""
            report[f"{key}_s"], report[f"{key}_cpu_s"], rows = best_with_cpu(run_once, repeat)
            if base:
                report[f"ratio_{name or key}_to_hand"] = round(report[f"{key}_s"] / report[f"{base}_s"], 2)
                report[f"ratio_{name or key}_to_hand_cpu"] = round(report[f"{key}_cpu_s"] / report[f"{base}_cpu_s"], 2)
            return rows

        hand_rows = measure("hand_written_duckdb", hand, args.repeat)
        rows = measure("duckdb_view", lambda: engine("duckdb", connection=connection), args.repeat,
                       "hand_written_duckdb", "duckdb")
        assert rows == hand_rows == resources, (rows, hand_rows, resources)
        parquet_out = Path(tmp) / "out.parquet"

        def parquet_rows(path: Path) -> int:
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows  # the file's footer: no rows read
            path.unlink()
            return rows

        def hand_parquet() -> int:
            connection.execute(f"COPY ({HAND_WRITTEN.format(path=ndjson)}) TO '{parquet_out}' (FORMAT parquet)")
            return parquet_rows(parquet_out)

        def engine_parquet(name: str, **options) -> int:
            result = run(view, source, engine=name, **options)
            assert result.engine == name and result.save is not None, result.engine
            written = result.save(str(parquet_out), "parquet", True)
            assert written == parquet_rows(parquet_out), written
            return written

        rows = measure("hand_parquet", hand_parquet, args.repeat)
        assert rows == resources, (rows, resources)
        rows = measure("duckdb_parquet", lambda: engine_parquet("duckdb", connection=connection), args.repeat,
                       "hand_parquet")
        assert rows == resources, (rows, resources)
        if not args.no_runner:
            report["runner_s"], _ = best(lambda: engine("runner"), 1)
        if not args.no_spark:
            from ehelse.analytics.engines import spark as spark_engine

            if args.spark_single_file:
                spark_engine.SINGLE_FILE = args.spark_single_file
                report["spark_single_file"] = args.spark_single_file
            started = time.perf_counter()
            session = spark_engine.session(args.spark_master)
            report["spark_master"] = args.spark_master
            report["spark_start_s"] = time.perf_counter() - started
            report["spark_first_s"], spark_rows = best(lambda: engine("spark", spark=session), 1)
            assert spark_rows == resources, (spark_rows, resources)
            measure("spark_view", lambda: engine("spark", spark=session), args.spark_repeat,
                    "hand_written_duckdb", "spark")
            report["ratio_spark_first_to_hand"] = round(report["spark_first_s"] / report["hand_written_duckdb_s"], 2)
            # Into a Parquet file: one cold run (the writer's code paths JIT-compiled), then
            # the best of --spark-repeat warm runs.
            report["spark_parquet_first_s"], _ = best(lambda: engine_parquet("spark", spark=session), 1)
            rows = measure("spark_parquet", lambda: engine_parquet("spark", spark=session), args.spark_repeat,
                           "hand_parquet")
            assert rows == resources, (rows, resources)
            if args.spark_variant_read:
                measure("spark_variant_read", lambda: engine("spark", spark=session, reader="variant"),
                        args.spark_repeat, "hand_written_duckdb")
                measure("spark_variant_read_parquet",
                        lambda: engine_parquet("spark", spark=session, reader="variant"), args.spark_repeat,
                        "hand_parquet")
            spark_engine.stop()
        for key, value in list(report.items()):
            if key.endswith("_s") and isinstance(value, float):
                report[key] = round(value, 3)
        rate = resources / report["duckdb_view_s"] if report["duckdb_view_s"] else 0
        report["duckdb_rows_per_s"] = round(rate)
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
