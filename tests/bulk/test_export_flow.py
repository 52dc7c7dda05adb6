"""The whole Bulk Data export flow over HTTP, as a client written against the spec
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html) drives it: kick-off with
`Prefer: respond-async`, polling the Content-Location until 200, the manifest, the files
with the same token, `_since` with `deleted[]`, `_type`, `_typeFilter`, `_elements`,
`patient`, Group, cancel, and the access rules."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from bulk.conftest import token

ASYNC = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def auth(bearer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}"}


def kick_off(url: str, bearer: str, params: Any = None, body: Any = None) -> httpx.Response:
    headers = {**ASYNC, **auth(bearer)}
    if body is not None:
        return httpx.post(url, headers={**headers, "Content-Type": "application/fhir+json"},
                          content=orjson.dumps(body), timeout=30)
    return httpx.get(url, params=params, headers=headers, timeout=30)


def wait(status_url: str, bearer: str, limit: float = 60) -> dict[str, Any]:
    """Poll as export.html#bulk-data-status-request says: 202 (with X-Progress and
    Retry-After) until 200 and the manifest."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = httpx.get(status_url, headers=auth(bearer), timeout=30)
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("application/json")
            return r.json()
        assert r.status_code == 202, r.text
        assert r.headers.get("x-progress") and int(r.headers["retry-after"]) > 0
        time.sleep(0.2)
    raise AssertionError("export did not finish")


def export(url: str, bearer: str, params: Any = None, body: Any = None) -> dict[str, Any]:
    r = kick_off(url, bearer, params, body)
    assert r.status_code == 202, r.text
    return wait(r.headers["content-location"], bearer)


def lines(item: dict[str, Any], bearer: str) -> list[dict[str, Any]]:
    r = httpx.get(item["url"], headers={**auth(bearer), "Accept": "application/fhir+ndjson"}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+ndjson")
    return [orjson.loads(line) for line in r.content.splitlines() if line]


def by_type(manifest: dict[str, Any], bearer: str) -> dict[str, list[dict[str, Any]]]:
    return {item["type"]: lines(item, bearer) for item in manifest["output"]}


@pytest.fixture(scope="module")
def admin(repo) -> str:
    return token(repo, "admin")


@pytest.fixture(scope="module")
def system_export(server, admin) -> dict[str, Any]:
    return export(f"{server.fhir}/$export", admin)


def test_system_export_manifest_and_files(server, repo, admin, system_export):
    manifest = system_export
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == f"{server.fhir}/$export"
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == [] and manifest["deleted"] == []
    got = by_type(manifest, admin)
    for item in manifest["output"]:
        resources = got[item["type"]]
        assert len(resources) == item["count"] > 0
        assert {r["resourceType"] for r in resources} == {item["type"]}
    # everything stored is exported, once (AuditEvents written by this export come after transactionTime)
    stored = sum(1 for v in repo.iter_current("Patient"))
    assert len(got["Patient"]) == stored and len({p["id"] for p in got["Patient"]}) == stored
    assert "Observation" in got and "Encounter" in got


def test_files_and_status_need_the_owners_token(server, repo, system_export):
    other = token(repo, "system:someone-else", scope="system/*.rs")
    item = system_export["output"][0]
    assert httpx.get(item["url"], headers=auth(other)).status_code == 404
    assert httpx.get(item["url"]).status_code == 401
    status_url = item["url"].replace("/files/", "/status/").rsplit("/", 1)[0]
    assert httpx.get(status_url, headers=auth(other)).status_code == 404
    assert httpx.get(item["url"].rsplit("/", 1)[0] + "/..%2Fseed.sqlite", headers=auth(other)).status_code == 404


def test_kick_off_errors_per_spec(server, admin):
    r = httpx.get(f"{server.fhir}/$export", headers={"Accept": "application/fhir+json", **auth(admin)})
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"  # no Prefer: respond-async
    for params in ({"_since": "yesterday"}, {"_type": "NoSuchType"}, {"_outputFormat": "text/csv"},
                   {"includeAssociatedData": "LatestProvenanceResources"}, {"_typeFilter": "status=final"},
                   {"_bogus": "1"}):
        r = kick_off(f"{server.fhir}/$export", admin, params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    assert kick_off(f"{server.fhir}/Group/no-such-group/$export", admin).status_code == 404
    assert kick_off(f"{server.fhir}/Observation/$export", admin).status_code == 404


def test_type_and_type_filter(server, admin):
    manifest = export(f"{server.fhir}/$export", admin,
                      [("_type", "Patient,Observation"), ("_typeFilter", "Patient?gender=female")])
    got = by_type(manifest, admin)
    assert set(got) == {"Patient", "Observation"}
    everyone = httpx.get(f"{server.fhir}/Patient", params={"gender": "female", "_total": "accurate"},
                         headers=auth(admin)).json()["total"]
    assert len(got["Patient"]) == everyone > 0
    assert {p["gender"] for p in got["Patient"]} == {"female"}


def test_elements_subsets_and_tags(server, admin):
    manifest = export(f"{server.fhir}/$export", admin, {"_type": "Patient", "_elements": "gender"})
    patients = by_type(manifest, admin)["Patient"]
    assert patients and all(set(p) <= {"resourceType", "id", "meta", "gender"} for p in patients)
    assert all(any(t["code"] == "SUBSETTED" for t in p["meta"]["tag"]) for p in patients)


def test_since_gives_changes_and_deletions(server, repo, admin, system_export):
    since = system_export["transactionTime"]
    time.sleep(0.01)
    patient = next(repo.iter_current("Patient"))
    body = orjson.loads(patient.content)
    body["gender"] = "unknown" if body.get("gender") != "unknown" else "other"
    assert httpx.put(f"{server.fhir}/Patient/{body['id']}", content=orjson.dumps(body),
                     headers={**auth(admin), "Content-Type": "application/fhir+json"}).status_code == 200
    observation = next(repo.iter_current("Observation"))
    assert httpx.delete(f"{server.fhir}/Observation/{observation.id}", headers=auth(admin)).status_code in (200, 204)
    manifest = export(f"{server.fhir}/$export", admin, {"_since": since, "_type": "Patient,Observation"})
    got = by_type(manifest, admin)
    assert [p["id"] for p in got["Patient"]] == [body["id"]] and "Observation" not in got
    assert [d["type"] for d in manifest["deleted"]] == ["Bundle"]
    bundles = lines(manifest["deleted"][0], admin)
    assert bundles == [{"resourceType": "Bundle", "type": "transaction",
                        "entry": [{"request": {"method": "DELETE", "url": f"Observation/{observation.id}"}}]}]


def test_cancel(server, admin):
    r = kick_off(f"{server.fhir}/$export", admin)
    status_url = r.headers["content-location"]
    cancelled = httpx.delete(status_url, headers=auth(admin))
    assert cancelled.status_code == 202
    assert httpx.get(status_url, headers=auth(admin)).status_code == 404
    assert httpx.delete(status_url, headers=auth(admin)).status_code == 404


def test_patient_export_with_patient_parameter(server, repo, admin):
    patients = [v.id for v in repo.iter_current("Patient")][:2]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": f"Patient/{patients[0]}"}},
        {"name": "_type", "valueString": "Patient,Encounter,Observation"}]}
    got = by_type(export(f"{server.fhir}/Patient/$export", admin, body=body), admin)
    assert [p["id"] for p in got["Patient"]] == [patients[0]]
    for type in ("Encounter", "Observation"):
        for resource in got.get(type, []):
            assert (resource.get("subject") or resource.get("patient"))["reference"] == f"Patient/{patients[0]}"
    assert kick_off(f"{server.fhir}/Patient/$export", admin, {"patient": f"Patient/{patients[0]}"}).status_code == 400


def test_group_export(server, repo, admin):
    members = [v.id for v in repo.iter_current("Patient")][2:5]
    group = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": f"Patient/{m}"}} for m in members]}
    r = httpx.post(f"{server.fhir}/Group", content=orjson.dumps(group),
                   headers={**auth(admin), "Content-Type": "application/fhir+json"})
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]
    got = by_type(export(f"{server.fhir}/Group/{group_id}/$export", admin, {"_type": "Patient,Condition"}), admin)
    assert sorted(p["id"] for p in got["Patient"]) == sorted(members)
    assert all(c["subject"]["reference"].split("/")[1] in members for c in got.get("Condition", []))


def test_system_client_gets_what_its_scopes_allow(server, repo):
    client = token(repo, "system:lab-registry", scope="system/Observation.rs")
    manifest = export(f"{server.fhir}/$export", client)
    assert [item["type"] for item in manifest["output"]] == ["Observation"]
    assert kick_off(f"{server.fhir}/$export", client, {"_type": "Patient"}).status_code == 403


def test_citizens_and_personnel_cannot_bulk_export(server, repo):
    patient = orjson.loads(next(repo.iter_current("Patient")).content)
    fnr = next((i["value"] for i in patient.get("identifier", []) if i.get("system", "").endswith("fnr")), None)
    if fnr:
        citizen = token(repo, f"patient:{fnr}")
        assert kick_off(f"{server.fhir}/Patient/$export", citizen).status_code == 403
    clinician = token(repo, "practitioner:9144900")
    assert kick_off(f"{server.fhir}/$export", clinician).status_code in (401, 403)
