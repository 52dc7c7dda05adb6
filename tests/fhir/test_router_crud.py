"""read, vread, create, update, delete and their headers (http://hl7.org/fhir/R4/http.html), on every backend."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from router_client import BASE, outcome_of, patient


def test_create_assigns_id_ignores_body_id_and_sets_headers(client):
    response = client.post("Patient", patient(id="client-chosen"))
    assert response.status == 201
    created = response.parsed()
    assert created["id"] != "client-chosen"
    assert created["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"{BASE}/Patient/{created['id']}/_history/1"
    parsedate_to_datetime(response.headers["last-modified"])  # a real HTTP date


def test_read_returns_stored_bytes_unparsed(client):
    created = client.create(patient(birthDate="1970-01-01"))
    response = client.get(f"Patient/{created['id']}")
    assert response.status == 200
    assert response.resource is None and response.body is not None  # the thin path
    assert response.parsed() == created
    assert response.headers["etag"] == 'W/"1"'


def test_decimal_precision_survives_create_and_read(client):
    body = b'{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":72.50}}'
    created = client.post("Observation", body)
    assert created.status == 201
    read = client.get(f"Observation/{created.parsed()['id']}")
    assert b'"value":72.50' in read.body


def test_read_unknown_is_404_and_unknown_type_is_404(client):
    assert outcome_of(client.get("Patient/nope")) and client.get("Patient/nope").status == 404
    response = client.get("Patient2/1")
    assert response.status == 404
    assert outcome_of(response)["issue"][0]["code"] == "not-supported"


def test_invalid_id_in_url_is_400(client):
    response = client.get("Patient/" + "x" * 65)
    assert response.status == 400
    assert outcome_of(response)["issue"][0]["code"] == "value"


def test_vread_versions_and_errors(client):
    created = client.create(patient())
    id = created["id"]
    client.put(f"Patient/{id}", {**patient("Hansen"), "id": id})
    assert client.get(f"Patient/{id}/_history/1").parsed()["name"][0]["family"] == "Nordmann"
    assert client.get(f"Patient/{id}/_history/2").parsed()["name"][0]["family"] == "Hansen"
    assert client.get(f"Patient/{id}/_history/3").status == 404
    assert client.get(f"Patient/{id}/_history/abc").status == 404
    client.delete(f"Patient/{id}")
    assert client.get(f"Patient/{id}/_history/3").status == 410


def test_update_rules(client):
    id = client.create(patient())["id"]
    no_id = client.put(f"Patient/{id}", patient())
    assert no_id.status == 400 and outcome_of(no_id)["issue"][0]["expression"] == ["Patient.id"]
    mismatch = client.put(f"Patient/{id}", {**patient(), "id": "other"})
    assert mismatch.status == 400
    wrong_type = client.put(f"Patient/{id}", {"resourceType": "Observation", "id": id})
    assert wrong_type.status == 400
    ok = client.put(f"Patient/{id}", {**patient("Berg"), "id": id})
    assert ok.status == 200 and ok.headers["etag"] == 'W/"2"'
    assert "location" not in ok.headers


def test_update_as_create_with_client_id(client):
    response = client.put("Patient/my-id.1", {**patient(), "id": "my-id.1"})
    assert response.status == 201
    assert response.headers["location"] == f"{BASE}/Patient/my-id.1/_history/1"
    assert client.get("Patient/my-id.1").status == 200


@pytest.mark.parametrize("etag", ['W/"1"', '"1"'])
def test_if_match_accepts_weak_and_strong(client, etag):
    id = client.create(patient())["id"]
    ok = client.put(f"Patient/{id}", {**patient(), "id": id}, headers={"If-Match": etag})
    assert ok.status == 200
    stale = client.put(f"Patient/{id}", {**patient(), "id": id}, headers={"If-Match": etag})
    assert stale.status == 412
    assert outcome_of(stale)["issue"][0]["code"] == "conflict"


def test_if_match_garbage_is_400(client):
    id = client.create(patient())["id"]
    response = client.put(f"Patient/{id}", {**patient(), "id": id}, headers={"If-Match": "yesterday"})
    assert response.status == 400


def test_if_none_match_and_if_modified_since_give_304(client):
    id = client.create(patient())["id"]
    assert client.get(f"Patient/{id}", headers={"If-None-Match": 'W/"1"'}).status == 304
    assert client.get(f"Patient/{id}", headers={"If-None-Match": 'W/"7"'}).status == 200
    assert client.get(f"Patient/{id}", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}).status == 304
    assert client.get(f"Patient/{id}", headers={"If-Modified-Since": "Fri, 01 Jan 1999 00:00:00 GMT"}).status == 200


def test_delete_keeps_history_and_read_gives_410(client):
    id = client.create(patient())["id"]
    response = client.delete(f"Patient/{id}")
    assert response.status == 204 and response.headers["etag"] == 'W/"2"'
    gone = client.get(f"Patient/{id}")
    assert gone.status == 410 and outcome_of(gone)["issue"][0]["code"] == "deleted"
    assert client.get(f"Patient/{id}/_history/1").status == 200
    assert client.delete(f"Patient/{id}").status == 204  # deleting again is fine
    assert client.delete("Patient/never-was").status == 204
    recreated = client.put(f"Patient/{id}", {**patient(), "id": id})
    assert recreated.status == 201 and recreated.headers["etag"] == 'W/"3"'


@pytest.mark.parametrize("prefer,status_body", [
    ("return=minimal", None), ("return=representation", "Patient"), ("return=OperationOutcome", "OperationOutcome")])
def test_prefer_return(client, prefer, status_body):
    response = client.post("Patient", patient(), headers={"Prefer": prefer})
    assert response.status == 201 and "location" in response.headers
    body = response.parsed()
    assert (body and body["resourceType"]) == status_body


def test_head_has_headers_but_no_body(client):
    id = client.create(patient())["id"]
    response = client.request("HEAD", f"Patient/{id}")
    assert response.status == 200 and response.headers["etag"] == 'W/"1"'
    assert response.body is None and response.resource is None


def test_pretty(client):
    id = client.create(patient())["id"]
    pretty = client.get(f"Patient/{id}", query=[("_pretty", "true")])
    assert b"\n  " in pretty.body


@pytest.mark.parametrize("fmt,status", [("json", 200), ("application/fhir+json", 200), ("xml", 406),
                                        ("application/fhir+xml", 406), ("ttl", 406)])
def test_format_parameter(client, fmt, status):
    id = client.create(patient())["id"]
    response = client.get(f"Patient/{id}", query=[("_format", fmt)])
    assert response.status == status
    if status != 200:
        outcome_of(response)


def test_accept_xml_only_is_406(client):
    assert client.get("metadata", headers={"Accept": "application/fhir+xml"}).status == 406
    assert client.get("metadata", headers={"Accept": "application/fhir+json"}).status == 200


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "application/fhir+json; charset=latin-1"])
def test_wrong_content_type_is_415(client, content_type):
    response = client.post("Patient", patient(), headers={"Content-Type": content_type})
    assert response.status == 415
    outcome_of(response)


def test_plain_json_content_type_is_accepted(client):
    assert client.post("Patient", patient(), headers={"Content-Type": "application/json"}).status == 201


def test_bundle_posted_to_bundle_type_is_stored_not_processed(client):
    document = {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": "urn:uuid:1", "resource": patient()}]}
    response = client.post("Bundle", document)
    assert response.status == 201
    assert response.parsed()["entry"][0]["resource"] == patient()
    assert client.get("Patient").parsed()["total"] == 0


def test_wrong_method_is_405(client):
    assert client.request("POST", "Patient/1").status == 405
    assert client.request("DELETE", "metadata").status == 405
    assert client.request("PUT", "Patient", patient()).status == 405  # no id, no criteria
