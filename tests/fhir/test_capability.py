"""metadata (http.html#capabilities) and the $operation registry, on every backend."""

from __future__ import annotations

from router_client import outcome_of, patient

from ehelse.fhir.resource_types import resource_types


def test_capability_statement_states_what_is_supported(client):
    response = client.get("metadata")
    assert response.status == 200
    statement = response.parsed()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    assert "application/json-patch+json" in statement["patchFormat"]
    rest = statement["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "search-system", "history-system"}
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == set(resource_types()) and len(by_type) == 146
    patient_ = by_type["Patient"]
    assert patient_["conditionalDelete"] == "single" and patient_["updateCreate"] is True
    assert {"read", "vread", "patch", "create", "history-instance"} <= {i["code"] for i in patient_["interaction"]}
    assert {p["name"]: p["type"] for p in patient_["searchParam"]} == client.repo.supported_search_params("Patient")
    assert {"validate"} <= {op["name"] for op in patient_["operation"]}
    assert "create" not in {i["code"] for i in by_type["AuditEvent"]["interaction"]}


def test_validate_operation_at_type_and_instance_level(client):
    response = client.post("Patient/$validate", patient(birthDate="1980-01-01"))
    assert response.status == 200 and response.parsed()["resourceType"] == "OperationOutcome"
    id = client.create(patient())["id"]
    response = client.post(f"Patient/{id}/$validate", patient(id=id), query=[("mode", "update")])
    assert response.status == 200 and response.parsed()["resourceType"] == "OperationOutcome"


def test_unknown_operation_is_404(client):
    response = client.post("Patient/$frobnicate", patient())
    assert response.status == 404
    outcome_of(response)
    assert client.post("$validate", patient()).status == 404  # not a system-level operation


def test_search_system_and_type(client):
    client.create(patient())
    client.create({"resourceType": "Organization", "name": "Helse Nord"})
    assert client.get("").parsed()["total"] == 2
    assert client.get("Organization").parsed()["total"] == 1
    assert client.get("Patient", query=[("_total", "sometimes")]).status == 400
    assert client.get("Patient", query=[("bad name!", "x")]).status == 400
