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


def test_metadata_full_and_normative_answer_the_capability_statement(client):
    # http.html#capabilities: full (or no mode) is the CapabilityStatement; for normative the
    # server may answer it whole ("Servers MAY ignore the mode parameter").
    plain = client.get("metadata").parsed()
    for mode in ("full", "normative"):
        response = client.get("metadata", query=[("mode", mode)])
        assert response.status == 200
        statement = response.parsed()
        assert statement["resourceType"] == "CapabilityStatement"
        assert statement["rest"] == plain["rest"]


def test_metadata_with_a_mode_the_spec_does_not_define_is_400_naming_the_parameter(client):
    for mode in ("bogus", "FULL", ""):
        response = client.get("metadata", query=[("mode", mode)])
        assert response.status == 400, mode
        issue = outcome_of(response)["issue"][0]
        assert issue["code"] == "value" and issue["expression"] == ["mode"]
        assert "full | normative | terminology" in issue["diagnostics"]


def test_metadata_mode_terminology_answers_terminology_capabilities_of_what_is_served(client):
    from ehelse.fhir.validation import validate

    stored = client.create({"resourceType": "CodeSystem", "url": "http://example.org/fhir/CodeSystem/farger",
                            "version": "2", "status": "active", "content": "complete",
                            "concept": [{"code": "rod", "display": "Rød"}]})
    stub = client.create({"resourceType": "CodeSystem", "url": "http://example.org/fhir/CodeSystem/tom",
                          "status": "active", "content": "not-present"})
    response = client.get("metadata", query=[("mode", "terminology")])
    assert response.status == 200
    capabilities = response.parsed()
    assert capabilities["resourceType"] == "TerminologyCapabilities"
    assert not [i for i in validate(capabilities) if i.is_error], validate(capabilities)
    assert capabilities["kind"] == "instance" and capabilities["implementation"]["url"] == "http://test/fhir"
    systems = {c["uri"]: c for c in capabilities["codeSystem"]}
    assert len(systems) == len(capabilities["codeSystem"])  # each code system once
    # a stored code system counts, with its version; a stub without concepts is not served
    assert systems[stored["url"]]["version"] == [{"code": "2", "isDefault": True}]
    assert stub["url"] not in systems
    # what it claims holds: $lookup and $subsumes on listed systems, paged $expand
    for system, code in ((stored["url"], "rod"), ("urn:oid:2.16.578.1.12.4.1.1.7170", "T90")):
        assert system in systems and systems[system]["subsumption"] is True
        assert client.get("CodeSystem/$lookup", query=[("system", system), ("code", code)]).status == 200
        assert client.get("CodeSystem/$subsumes", query=[("system", system), ("codeA", code),
                                                          ("codeB", code)]).status == 200
    assert capabilities["expansion"]["paging"] is True
    names = {p["name"] for p in capabilities["expansion"]["parameter"]}
    assert {"filter", "count", "offset"} <= names
    paged = client.get("ValueSet/$expand", query=[("url", "http://hl7.org/fhir/ValueSet/administrative-gender"),
                                                  ("count", "1"), ("offset", "1")])
    assert paged.status == 200 and len(paged.parsed()["expansion"]["contains"]) == 1
