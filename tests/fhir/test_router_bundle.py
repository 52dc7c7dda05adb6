"""Batch and transaction Bundles (http://hl7.org/fhir/R4/http.html#transaction), on every backend."""

from __future__ import annotations

import base64
import json

from router_client import outcome_of, patient

SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
LOCAL = "urn:ehelse:test"  # no Norwegian identifier rules on its values


def tx(*entries, kind="transaction"):
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource, full_url=None, **request):
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def observation(subject, **extra):
    return {"resourceType": "Observation", "status": "final", "code": {"text": "puls"},
            "subject": {"reference": subject}, **extra}


def test_transaction_rewrites_urn_uuid_everywhere(client):
    pid = "urn:uuid:7f1c2e00-0000-4000-8000-000000000001"
    obs = observation(pid, extension=[{"url": "http://example.org/x", "valueReference": {"reference": pid}}],
                      contained=[{"resourceType": "Provenance", "id": "p", "recorded": "2020-01-01T00:00:00Z",
                                  "target": [{"reference": pid}], "agent": [{"who": {"reference": pid}}]}],
                      text={"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{pid}">p</a></div>'})
    # the Observation comes first: references forward in the Bundle resolve too
    response = client.post("", tx(post(obs, "urn:uuid:7f1c2e00-0000-4000-8000-000000000002"), post(patient(), pid)))
    assert response.status == 200
    result = response.parsed()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created", "201 Created"]
    patient_ref = result["entry"][1]["response"]["location"].split("/_history")[0]
    assert patient_ref.startswith("Patient/")
    stored = client.get(result["entry"][0]["response"]["location"].split("/_history")[0]).parsed()
    assert stored["subject"]["reference"] == patient_ref
    assert stored["extension"][0]["valueReference"]["reference"] == patient_ref
    assert stored["contained"][0]["target"][0]["reference"] == patient_ref
    assert stored["contained"][0]["agent"][0]["who"]["reference"] == patient_ref
    assert f'href="{patient_ref}"' in stored["text"]["div"]
    assert client.get(patient_ref).status == 200


def test_transaction_is_all_or_nothing(client):
    existing = client.create(patient())["id"]
    bad = tx(post(patient("Først")),
             {"resource": {**patient("Ny"), "id": existing}, "request": {"method": "PUT", "url": f"Patient/{existing}",
                                                                      "ifMatch": 'W/"9"'}})
    response = client.post("", bad)
    assert response.status == 412
    issue = outcome_of(response)["issue"][0]
    assert "Bundle.entry[1]" in issue["diagnostics"]
    assert client.get("Patient").parsed()["total"] == 1  # the POST was rolled back
    assert client.get(f"Patient/{existing}").parsed()["name"][0]["family"] == "Nordmann"


def test_transaction_validation_failure_rolls_back(repo):
    from router_client import RouterClient

    client = RouterClient(repo, validate=True)
    response = client.post("", tx(post(patient()), post({"resourceType": "Patient", "birthDate": 12})))
    assert 400 <= response.status < 500
    outcome_of(response)
    assert client.get("Patient").parsed()["total"] == 0


def test_transaction_processing_order_and_response_order(client):
    old = client.create(patient("Gammel"))["id"]
    bundle = tx(
        {"request": {"method": "GET", "url": "Patient/fixed"}},
        {"resource": {**patient("Oppdatert"), "id": "fixed"}, "request": {"method": "PUT", "url": "Patient/fixed"}},
        post(patient("Ny")),
        {"request": {"method": "DELETE", "url": f"Patient/{old}"}},
    )
    result = client.post("", bundle).parsed()
    statuses = [e["response"]["status"] for e in result["entry"]]
    # GET runs last, after the PUT that creates what it reads (http.html#trules)
    assert statuses == ["200 OK", "201 Created", "201 Created", "204 No Content"]
    assert result["entry"][0]["resource"]["name"][0]["family"] == "Oppdatert"
    assert client.get(f"Patient/{old}").status == 410


def test_transaction_get_failure_fails_it_all(client):
    response = client.post("", tx(post(patient()), {"request": {"method": "GET", "url": "Patient/missing"}}))
    assert response.status == 404
    assert client.get("Patient").parsed()["total"] == 0


def test_conditional_create_and_reference_in_transaction(client):
    existing = client.create(patient(identifier=[{"system": SYSTEM, "value": "1"}]))["id"]
    bundle = tx(
        post(patient(identifier=[{"system": SYSTEM, "value": "1"}]), "urn:uuid:a",
             ifNoneExist=f"identifier={SYSTEM}|1"),
        post(observation("urn:uuid:a")),
        post(observation(f"Patient?identifier={SYSTEM}|1")),
    )
    result = client.post("", bundle).parsed()
    assert result["entry"][0]["response"]["status"] == "200 OK"
    for entry in result["entry"][1:]:
        stored = client.get(entry["response"]["location"].split("/_history")[0]).parsed()
        assert stored["subject"]["reference"] == f"Patient/{existing}"
    assert client.get("Patient").parsed()["total"] == 1


def test_conditional_reference_to_an_entry_created_in_the_same_transaction(client):
    bundle = tx(post(observation(f"Patient?identifier={SYSTEM}|9")),
                post(patient(identifier=[{"system": SYSTEM, "value": "9"}]), ifNoneExist=f"identifier={SYSTEM}|9"))
    result = client.post("", bundle).parsed()
    patient_ref = result["entry"][1]["response"]["location"].split("/_history")[0]
    stored = client.get(result["entry"][0]["response"]["location"].split("/_history")[0]).parsed()
    assert stored["subject"]["reference"] == patient_ref


def test_unresolvable_conditional_reference_fails_transaction(client):
    response = client.post("", tx(post(patient()), post(observation(f"Patient?identifier={SYSTEM}|nobody"))))
    assert response.status == 412
    assert client.get("Patient").parsed()["total"] == 0
    client.create(patient(identifier=[{"system": SYSTEM, "value": "twin"}]))
    client.create(patient(identifier=[{"system": SYSTEM, "value": "twin"}]))
    assert client.post("", tx(post(observation(f"Patient?identifier={SYSTEM}|twin")))).status == 412


def test_conditional_targets_are_validated_with_their_type(repo):
    """Entries are validated before the database decides conditional targets (bundle.py
    prepare_transaction): a target still to be looked up must be judged by its type all the
    same. Observation.subject may not refer to an Organization."""
    from router_client import RouterClient

    client = RouterClient(repo, validate=True)
    client.create({"resourceType": "Organization", "identifier": [{"system": LOCAL, "value": "org"}]})
    stored = client.post("", tx(post(observation(f"Organization?identifier={LOCAL}|org"))))
    assert stored.status == 422 and "Organization" in str(outcome_of(stored))
    in_bundle = client.post("", tx(
        post({"resourceType": "Organization", "identifier": [{"system": LOCAL, "value": "new"}]}, "urn:uuid:o",
             ifNoneExist=f"identifier={LOCAL}|new"),
        post(observation("urn:uuid:o"))))
    assert in_bundle.status == 422
    assert client.get("Observation").parsed()["total"] == 0


def test_conditional_create_that_finds_its_match_writes_nothing_and_validates_nothing(repo):
    """If-None-Exist with a match answers 200 with the match: the entry's body is not stored,
    so its validation verdict does not apply (as without a transaction, conditional.py)."""
    from router_client import RouterClient

    client = RouterClient(repo, validate=True)
    existing = client.create(patient(identifier=[{"system": LOCAL, "value": "kept"}]))["id"]
    bundle = tx(post({**patient(identifier=[{"system": LOCAL, "value": "kept"}]), "gender": "robot"},
                     "urn:uuid:k", ifNoneExist=f"identifier={LOCAL}|kept"),
                post(observation("urn:uuid:k")))
    result = client.post("", bundle)
    assert result.status == 200, outcome_of(result)
    entries = result.parsed()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    stored = client.get(entries[1]["response"]["location"].split("/_history")[0]).parsed()
    assert stored["subject"]["reference"] == f"Patient/{existing}"


def test_two_entries_changing_one_resource_fail(client):
    bundle = tx({"resource": {**patient(), "id": "x"}, "request": {"method": "PUT", "url": "Patient/x"}},
                {"request": {"method": "DELETE", "url": "Patient/x"}})
    assert client.post("", bundle).status == 400


def test_patch_entry_as_binary(client):
    id = client.create(patient())["id"]
    document = [{"op": "replace", "path": "/name/0/family", "value": "Lie"}]
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json",
              "data": base64.b64encode(json.dumps(document).encode()).decode()}
    result = client.post("", tx({"resource": binary, "request": {"method": "PATCH", "url": f"Patient/{id}"}}))
    assert result.status == 200
    assert client.get(f"Patient/{id}").parsed()["name"][0]["family"] == "Lie"


def test_batch_entries_are_independent(client):
    existing = client.create(patient())["id"]
    bundle = tx(post(patient("A")),
                {"resource": {**patient(), "id": existing}, "request": {"method": "PUT", "url": f"Patient/{existing}",
                                                                     "ifMatch": 'W/"5"'}},
                {"request": {"method": "GET", "url": "Patient/missing"}},
                {"request": {"method": "BREW", "url": "Patient"}},
                post(patient("B")), kind="batch")
    response = client.post("", bundle)
    assert response.status == 200
    result = response.parsed()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "412 Precondition Failed", "404 Not Found", "400 Bad Request", "201 Created"]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert client.get("Patient").parsed()["total"] == 3


def test_batch_does_not_resolve_references_between_entries(client):
    result = client.post("", tx(post(patient(), "urn:uuid:b"), post(observation("urn:uuid:b")), kind="batch")).parsed()
    stored = client.get(result["entry"][1]["response"]["location"].split("/_history")[0]).parsed()
    assert stored["subject"]["reference"] == "urn:uuid:b"


def test_base_rejects_other_bundle_types_and_non_bundles(client):
    assert client.post("", {"resourceType": "Bundle", "type": "collection"}).status == 400
    assert client.post("", patient()).status == 400
    assert client.post("", tx({"resource": patient()})).status == 400  # no request
    assert client.post("", tx({"request": {"method": "POST", "url": "Nonsense"}, "resource": patient()})).status == 400


def test_prefer_minimal_in_transaction_leaves_out_resources(client):
    result = client.post("", tx(post(patient())), headers={"Prefer": "return=minimal"}).parsed()
    assert "resource" not in result["entry"][0]
    assert result["entry"][0]["response"]["etag"] == 'W/"1"'
    assert result["entry"][0]["response"]["lastModified"].endswith("Z")
