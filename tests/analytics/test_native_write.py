"""Result.save: DuckDB (COPY ... TO) and Spark (DataFrame.write) write Parquet and CSV files
themselves, and the files hold what output.write makes of the in-process runner's rows: same
Parquet schema and values, same CSV cells (numbers compared as numbers: Spark spells 1e-05
as 1.0E-5; JSON objects compared parsed: Spark's VARIANT keeps object keys sorted)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ehelse.analytics import output
from ehelse.analytics.engines import run
from ehelse.analytics.sources import InlineSource
from ehelse.analytics.viewdefinition import parse_view

PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "active": True, "gender": "female", "birthDate": "1980-01-02",
     "multipleBirthInteger": 2,
     "name": [{"family": 'O\'Brien, "Jr"', "given": ["  Ann ", "Li\nne"]}, {"family": "Æsøy"}]},
    {"resourceType": "Patient", "id": "p2", "active": False, "gender": "male", "name": [{"family": "", "given": []}]},
    {"resourceType": "Patient", "id": "p3"},
]
OBSERVATIONS = [
    {"resourceType": "Observation", "id": f"o{i}", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "Systolisk, \"mmHg\""},
     "valueQuantity": {"value": value, "unit": "mmHg"}}
    for i, value in enumerate([130, 72.5, 0.00001, 12345678.9])
] + [{"resourceType": "Observation", "id": "o9", "status": "preliminary", "code": {"text": ""}}]

VIEWS = {
    "patients": {"resource": "Patient", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "active", "path": "active", "type": "boolean"},
        {"name": "twins", "path": "multipleBirth.ofType(integer)", "type": "integer"},
        {"name": "family", "path": "name.family.first()", "type": "string"},
        {"name": "given", "path": "name.given", "collection": True, "type": "string"},
        {"name": "first_name", "path": "name.first()"},  # a HumanName: JSON text
        {"name": "born", "path": "birthDate", "type": "date"}]}]},
    "observations": {"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
        {"name": "name", "path": "code.text"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "unit", "path": "value.ofType(Quantity).unit"}]}]},
    "nothing": {"resource": "Patient", "where": [{"path": "gender = 'nobody'"}],
                "select": [{"column": [{"name": "id", "path": "id"}, {"name": "active", "path": "active"}]}]},
}


def _value(cell):
    if isinstance(cell, str) and cell[:1] in "{[":
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    if isinstance(cell, str):
        try:
            return float(cell)
        except ValueError:
            return cell
    return cell


def read(path: Path, fmt: str) -> tuple[object, list]:
    if fmt == "parquet":
        table = pq.read_table(path)
        schema = [(f.name, str(f.type).replace("element", "item")) for f in table.schema]  # list field naming
        return schema, sorted(([_value(v) for v in row.values()] for row in table.to_pylist()), key=repr)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], sorted(([_value(v) for v in row] for row in rows[1:]), key=repr)


def expected(view, source, path: Path, fmt: str) -> tuple[object, list]:
    result = run(view, source, engine="runner")
    with path.open("wb") as f:
        count = output.write(result.rows, result.columns, f, fmt, view=view)
    return count, read(path, fmt)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_duckdb_writes_the_file_itself(tmp_path, name, fmt):
    view, source = parse_view(VIEWS[name]), InlineSource(PATIENTS + OBSERVATIONS)
    count, want = expected(view, source, tmp_path / f"want.{fmt}", fmt)
    result = run(view, source, engine="duckdb")
    assert result.engine == "duckdb" and result.save is not None
    assert result.save(str(tmp_path / f"got.{fmt}"), fmt, True) == count
    assert read(tmp_path / f"got.{fmt}", fmt) == want
    if name != "nothing":
        assert count > 0


@pytest.mark.slow
def test_spark_writes_the_file_itself(tmp_path, spark):
    for name, spec in sorted(VIEWS.items()):
        for fmt in ("parquet", "csv"):
            view, source = parse_view(spec), InlineSource(PATIENTS + OBSERVATIONS)
            count, want = expected(view, source, tmp_path / f"want.{fmt}", fmt)
            result = run(view, source, engine="spark", spark=spark)
            assert result.engine == "spark" and result.save is not None
            got = tmp_path / f"{name}.{fmt}"
            assert result.save(str(got), fmt, True) == count, (name, fmt)
            assert read(got, fmt) == want, (name, fmt)
    # the part-file folder beside the output is gone
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_spark_save_errors_are_invalid_views(tmp_path, spark):
    from ehelse.analytics.viewdefinition import InvalidView

    view = parse_view({"resource": "Patient", "select": [{"column": [{"name": "g", "path": "name.given"}]}]})
    result = run(view, InlineSource(PATIENTS), engine="spark", spark=spark)
    with pytest.raises(InvalidView, match="Collection value"):
        result.save(str(tmp_path / "x.parquet"), "parquet", True)
    assert not (tmp_path / "x.parquet").exists()


def test_cli_writes_parquet_and_csv_without_python_rows(tmp_path, monkeypatch):
    """`ehelse analytics run --engine duckdb --out X.parquet|.csv` never calls output.write
    (the Python row writer): the engine writes the file."""
    from ehelse.cli.main import app

    export = tmp_path / "export"
    export.mkdir()
    (export / "Observation.ndjson").write_text("\n".join(json.dumps(o) for o in OBSERVATIONS) + "\n")
    (tmp_path / "view.json").write_text(json.dumps(VIEWS["observations"]))

    def refuse(*args, **kwargs):
        raise AssertionError("rows went through Python")

    monkeypatch.setattr(output, "write", refuse)
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"rows.{fmt}"
        result = CliRunner().invoke(app, ["analytics", "run", str(tmp_path / "view.json"), "--engine", "duckdb",
                                          "--source", str(export), "--out", str(out)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert f"{len(OBSERVATIONS)} rows" in result.output
        ids = pq.read_table(out).column("id").to_pylist() if fmt == "parquet" else \
            [r["id"] for r in csv.DictReader(out.open(newline=""))]
        assert sorted(ids) == sorted(o["id"] for o in OBSERVATIONS)
