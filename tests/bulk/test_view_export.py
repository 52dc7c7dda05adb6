"""$viewdefinition-export (SQL on FHIR v2, OperationDefinition ViewDefinitionExport) over
HTTP against a real server: kick-off 202 + Content-Location, polling the Bulk Data status
URL, a manifest with one output file per view, files in ndjson/csv/parquet with the same
token, pseudonymisation, cancel, bad input as 4xx, and the comparison with $viewdefinition-run."""

from __future__ import annotations

import csv
import io

import httpx
import orjson
import pytest

from bulk.conftest import token
from bulk.test_export_flow import auth, kick_off, wait


def _view(name: str, reference: str | None = None, resource: dict | None = None) -> dict:
    parts = [{"name": "name", "valueString": name}]
    if reference:
        parts.append({"name": "viewReference", "valueReference": {"reference": reference}})
    if resource:
        parts.append({"name": "viewResource", "resource": resource})
    return {"name": "view", "part": parts}


def _body(*parameters: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


GENDERS = {"resourceType": "ViewDefinition", "name": "genders", "status": "active", "resource": "Patient",
           "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}]}


@pytest.fixture(scope="module")
def admin(repo) -> str:
    return token(repo, "admin")


def _fetch(item: dict, bearer: str) -> httpx.Response:
    r = httpx.get(item["url"], headers=auth(bearer), timeout=30)
    assert r.status_code == 200, r.text
    return r


def test_two_views_ndjson_manifest_and_files(server, repo, admin):
    body = _body(_view("demo", reference="ViewDefinition/patient_demographics"), _view("genders", resource=GENDERS),
                 {"name": "clientTrackingId", "valueString": "track-1"})
    r = kick_off(f"{server.fhir}/$viewdefinition-export", admin, body=body)
    assert r.status_code == 202, r.text
    manifest = wait(r.headers["content-location"], admin)
    assert manifest["requiresAccessToken"] is True and manifest["clientTrackingId"] == "track-1"
    assert manifest["request"] == f"{server.fhir}/$viewdefinition-export" and manifest["error"] == []
    assert [o["name"] for o in manifest["output"]] == ["demo", "genders"]
    patients = {v.id for v in repo.iter_current("Patient")}
    genders = [orjson.loads(line) for line in _fetch(manifest["output"][1], admin).content.splitlines()]
    assert {row["id"] for row in genders} == patients and manifest["output"][1]["count"] == len(patients)
    demo = [orjson.loads(line) for line in _fetch(manifest["output"][0], admin).content.splitlines()]
    assert {row["patient_id"] for row in demo} == patients
    # the same rows as the synchronous $viewdefinition-run gives for the same view
    run = httpx.post(f"{server.fhir}/$viewdefinition-run", headers={**auth(admin), "Content-Type": "application/fhir+json"},
                     content=orjson.dumps({"resourceType": "Parameters", "parameter": [
                         {"name": "viewResource", "resource": GENDERS}]}), timeout=30)
    assert run.status_code == 200
    assert sorted(orjson.loads(x)["id"] for x in run.content.splitlines()) == sorted(r["id"] for r in genders)


def test_csv_and_parquet_formats(server, repo, admin):
    import pyarrow.parquet as pq

    count = sum(1 for _ in repo.iter_current("Patient"))
    for fmt in ("csv", "parquet"):
        body = _body(_view("genders", resource=GENDERS), {"name": "_format", "valueCode": fmt})
        manifest = wait(kick_off(f"{server.fhir}/$viewdefinition-export", admin, body=body).headers["content-location"],
                        admin)
        item = manifest["output"][0]
        assert item["format"] == fmt and item["url"].endswith(f"genders.{fmt}")
        content = _fetch(item, admin).content
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(content.decode())))
        else:
            rows = pq.read_table(io.BytesIO(content)).to_pylist()
        assert len(rows) == count == item["count"] and set(rows[0]) == {"id", "gender"}


def test_pseudonymised_extract_hides_ids_and_documents_it(server, repo, admin):
    body = _body(_view("genders", resource=GENDERS), {"name": "pseudonymise", "valueBoolean": True},
                 {"name": "project", "valueString": "studie-a"})
    manifest = wait(kick_off(f"{server.fhir}/$viewdefinition-export", admin, body=body).headers["content-location"],
                    admin)
    rows = [orjson.loads(line) for line in _fetch(manifest["output"][0], admin).content.splitlines()]
    live = {v.id for v in repo.iter_current("Patient")}
    assert rows and not ({row["id"] for row in rows} & live)
    assert manifest["pseudonymisation"][0]["project"] == "studie-a"
    # the same project gives the same pseudonyms again
    again = wait(kick_off(f"{server.fhir}/$viewdefinition-export", admin, body=body).headers["content-location"], admin)
    assert sorted(orjson.loads(x)["id"] for x in _fetch(again["output"][0], admin).content.splitlines()) == \
        sorted(row["id"] for row in rows)


def test_instance_level_patient_filter_and_cancel(server, repo, admin):
    first = next(iter(repo.iter_current("Patient"))).id
    body = _body({"name": "patient", "valueReference": {"reference": f"Patient/{first}"}})
    url = f"{server.fhir}/ViewDefinition/patient_demographics/$viewdefinition-export"
    manifest = wait(kick_off(url, admin, body=body).headers["content-location"], admin)
    rows = [orjson.loads(line) for line in _fetch(manifest["output"][0], admin).content.splitlines()]
    assert [row["patient_id"] for row in rows] == [first]
    status = kick_off(url, admin, body=body).headers["content-location"]
    assert httpx.delete(status, headers=auth(admin)).status_code == 202
    assert httpx.get(status, headers=auth(admin)).status_code == 404


@pytest.mark.parametrize("body, prefer", [
    (_body(), True),  # no view
    (_body(_view("x", resource={"resourceType": "ViewDefinition", "resource": "Patient", "select": []})), True),
    (_body(_view("x", reference="ViewDefinition/no_such_view")), True),
    (_body(_view("g", resource=GENDERS), {"name": "_format", "valueCode": "xlsx"}), True),
    (_body(_view("g", resource=GENDERS), {"name": "_since", "valueInstant": "yesterday"}), True),
    (_body(_view("g", resource=GENDERS), {"name": "pseudonymise", "valueBoolean": True}), True),  # no project
    (_body(_view("g", resource=GENDERS)), False),  # not async
])
def test_bad_kick_off_is_4xx_outcome(server, admin, body, prefer):
    headers = {**auth(admin), "Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if prefer:
        headers["Prefer"] = "respond-async"
    r = httpx.post(f"{server.fhir}/$viewdefinition-export", headers=headers, content=orjson.dumps(body), timeout=30)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_anonymous_kick_off_is_refused(server):
    r = httpx.post(f"{server.fhir}/$viewdefinition-export", content=orjson.dumps(_body(_view("g", resource=GENDERS))),
                   headers={"Content-Type": "application/fhir+json", "Prefer": "respond-async"}, timeout=30)
    assert r.status_code in (401, 403)


def test_kick_off_checks_scopes_and_actor_kind_up_front(server, repo):
    """A system client may export a view only over types its scopes allow, refused at kick-off
    (as $export does) rather than a job that fails later; citizens may not export at all."""
    headers = {"Content-Type": "application/fhir+json", "Prefer": "respond-async"}
    lab = token(repo, "system:lab-registry", scope="system/Observation.rs")
    r = httpx.post(f"{server.fhir}/$viewdefinition-export", content=orjson.dumps(_body(_view("g", resource=GENDERS))),
                   headers={**headers, **auth(lab)}, timeout=30)
    assert r.status_code == 403, r.text
    assert "Patient" in r.json()["issue"][0]["diagnostics"]
    registry = token(repo, "system:population-registry", scope="system/Patient.rs")
    r = httpx.post(f"{server.fhir}/$viewdefinition-export", content=orjson.dumps(_body(_view("g", resource=GENDERS))),
                   headers={**headers, **auth(registry)}, timeout=30)
    assert r.status_code == 202, r.text
    citizen = token(repo, "patient:11848441637")
    r = httpx.post(f"{server.fhir}/$viewdefinition-export", content=orjson.dumps(_body(_view("g", resource=GENDERS))),
                   headers={**headers, **auth(citizen)}, timeout=30)
    assert r.status_code == 403, r.text
