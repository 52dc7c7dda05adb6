"""`ehelse analytics` end to end over a seeded SQLite file, and $viewdefinition-run through
the router (inline resources, stored data, library and Binary references, formats, errors)."""

from __future__ import annotations

import base64
import csv
import io
import json

import orjson
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ehelse.cli.main import app
from ehelse.fhir.request import FhirRequest
from ehelse.fhir.router import Router
from ehelse.nobasis.seed import seed
from ehelse.settings import Settings
from ehelse.storage import open_repository

FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("analytics") / "ehelse.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    seed(repo, patients=8, seed=3)
    fnrs = [i["value"] for v in repo.iter_current("Patient") for i in orjson.loads(v.content).get("identifier", [])
            if i.get("system") == FNR_SYSTEM]
    repo.close()
    return f"sqlite:///{path}", fnrs


def ehelse(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def audit_events(url):
    repo = open_repository(url)
    try:
        from ehelse.audit import log
        from ehelse.audit.record import render

        return [render(r) for r in log.select(repo, log.LogQuery(newest_first=False))]  # the audit log's records
    finally:
        repo.close()


def test_cli_runs_a_library_view_to_csv_and_audits(database, tmp_path):
    url, _ = database
    before = {e["id"] for e in audit_events(url)}
    out = tmp_path / "bp.csv"
    result = ehelse("analytics", "run", "blood_pressure", "--out", out, "-d", url, "--purpose", "HOPERAT")
    rows = list(csv.DictReader(out.open()))
    assert rows and set(rows[0]) == {"observation_id", "patient_id", "effective", "systolic", "diastolic", "unit"}
    assert "with duckdb" in result.output
    events = [e for e in audit_events(url) if e["id"] not in before]
    audited = {e["entity"][0]["what"]["reference"].removeprefix("Patient/") for e in events}
    assert len(audited) == len(events)  # one event per patient whose data was read:
    assert {r["patient_id"] for r in rows} <= audited  # every patient in the result, and those
    # whose Observations were read and filtered out by the view's where (the run read them)
    assert all("blood_pressure" in e["outcomeDesc"] and "HOPERAT" in e["outcomeDesc"] for e in events)


def test_cli_pseudonymised_parquet_extract(database, tmp_path):
    url, fnrs = database
    key = tmp_path / "project.key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    out = tmp_path / "cohort.parquet"
    ehelse("analytics", "run", "patient_demographics", "--out", out, "-d", url, "--pseudonymise",
           "--project-key-file", key, "--project", "S42", "--engine", "runner")
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == len(fnrs) == 8
    assert not any(fnr in json.dumps(rows) for fnr in fnrs)
    assert all(len(r["patient_id"]) == 32 for r in rows)
    declaration = json.loads((tmp_path / "cohort.parquet.pseudonymisation.json").read_text())
    assert declaration["rows"] == 8 and declaration["project"] == "S42"


def test_cli_over_an_ndjson_export_with_a_view_file(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text("\n".join(json.dumps(p) for p in [
        {"resourceType": "Patient", "id": "a", "gender": "male"},
        {"resourceType": "Patient", "id": "b", "gender": "female"}]) + "\n")
    view = tmp_path / "view.json"
    view.write_text(json.dumps({"resourceType": "ViewDefinition", "name": "g", "resource": "Patient",
                                "select": [{"column": [{"name": "id", "path": "id"}, {"name": "g", "path": "gender"}]}]}))
    out = tmp_path / "g.ndjson"
    result = ehelse("analytics", "run", view, "--source", export, "--out", out)
    assert sorted(json.loads(line)["g"] for line in out.read_text().splitlines()) == ["female", "male"]
    assert "not audited" in result.output


def test_cli_lists_views_and_rejects_bad_input(tmp_path):
    assert "blood_pressure" in ehelse("analytics", "views").output
    bad = CliRunner().invoke(app, ["analytics", "run", "no_such_view", "--out", str(tmp_path / "x.csv")])
    assert bad.exit_code == 1 and "No library view" in bad.output
    bad = CliRunner().invoke(app, ["analytics", "run", "encounters", "--out", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 1 and ".parquet" in bad.output


# -- $viewdefinition-run through the router ----------------------------------------------------

@pytest.fixture(scope="module")
def router_repo(database):
    repo = open_repository(database[0])
    yield Router(Settings.from_env({}, validate=False)), repo
    repo.close()


def call(router_repo, method, path, body=None, query=()):
    router, repo = router_repo
    raw = orjson.dumps(body) if body is not None else b""
    return router.handle(FhirRequest(method, path, list(query), {"content-type": "application/fhir+json"}, raw), repo)


def parameters(*items):
    return {"resourceType": "Parameters", "parameter": list(items)}


PATIENT_VIEW = {"resourceType": "ViewDefinition", "resource": "Patient", "name": "ids",
                "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}]}


def test_run_with_inline_view_and_resources(router_repo):
    response = call(router_repo, "POST", "ViewDefinition/$run", parameters(
        {"name": "viewResource", "resource": PATIENT_VIEW},
        {"name": "resource", "resource": {"resourceType": "Patient", "id": "x", "gender": "other"}},
        {"name": "_format", "valueCode": "json"}))
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == [{"id": "x", "gender": "other"}]


def test_run_over_stored_data_by_library_reference_csv_and_limit(router_repo):
    response = call(router_repo, "POST", "ViewDefinition/encounters/$run", parameters(
        {"name": "_format", "valueCode": "csv"}, {"name": "_limit", "valueInteger": 3},
        {"name": "header", "valueBoolean": False}))
    assert response.status == 200 and response.headers["Content-Type"] == "text/csv"
    lines = response.body.decode().strip().splitlines()
    assert len(lines) == 3 and not lines[0].startswith("encounter_id")
    # GET: the URL's _format is FHIR's own (http.html#mime), so only json there (see docs)
    response = call(router_repo, "GET", "ViewDefinition/encounters/$run", query=[("_format", "json"), ("_limit", "2")])
    assert response.status == 200 and len(json.loads(response.body)) == 2


def test_run_system_level_with_patient_and_parquet(router_repo, database):
    router, repo = router_repo
    patient = next(iter(repo.iter_current("Patient"))).id
    response = call(router_repo, "POST", "$viewdefinition-run", parameters(
        {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/conditions"}},
        {"name": "patient", "valueReference": {"reference": f"Patient/{patient}"}},
        {"name": "_format", "valueCode": "parquet"}))
    assert response.status == 200
    rows = pq.read_table(io.BytesIO(response.body)).to_pylist()
    assert rows and {r["patient_id"] for r in rows} == {patient}


def test_run_with_a_view_stored_as_binary(router_repo):
    router, repo = router_repo
    data = base64.b64encode(json.dumps(PATIENT_VIEW).encode()).decode()
    binary = repo.create({"resourceType": "Binary", "contentType": "application/json", "data": data})
    response = call(router_repo, "POST", "$viewdefinition-run", parameters(
        {"name": "viewReference", "valueReference": {"reference": f"Binary/{binary.id}"}}))
    lines = response.body.decode().splitlines()  # default _format: ndjson
    assert response.status == 200 and len(lines) == 8


@pytest.mark.parametrize("body,status,needle", [
    (parameters(), 400, "exactly one of viewResource and viewReference"),
    (parameters({"name": "viewReference", "valueReference": {"reference": "ViewDefinition/nope"}}), 404, "No library view"),
    (parameters({"name": "viewResource", "resource": {"resource": "Patient", "select": [{"column": [
        {"name": "a b", "path": "id"}]}]}}), 400, "not a valid SQL name"),
    (parameters({"name": "viewResource", "resource": PATIENT_VIEW}, {"name": "_format", "valueCode": "xlsx"}), 400, "_format"),
    (parameters({"name": "viewResource", "resource": PATIENT_VIEW}, {"name": "_limit", "valueInteger": -1}), 400, "_limit"),
    (parameters({"name": "viewResource", "resource": {"resource": "Patient", "select": [{"column": [
        {"name": "n", "path": "name.family"}]}]}}, {"name": "resource", "resource": {
            "resourceType": "Patient", "name": [{"family": "A"}, {"family": "B"}]}}), 400, "Collection value"),
])
def test_run_errors_are_4xx_operation_outcomes(router_repo, body, status, needle):
    response = call(router_repo, "POST", "$viewdefinition-run", body)
    assert response.status == status
    assert needle in json.dumps(response.resource)
