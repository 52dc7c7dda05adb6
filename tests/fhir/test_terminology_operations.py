"""The terminology operations through the router (the functions are tested in tests/terminology
and tests/nobasis); here: the wiring — levels, types, parameters, errors, CapabilityStatement."""

from __future__ import annotations

from router_client import RouterClient, outcome_of

from ehelse.storage.memory import MemoryRepository

ICPC2 = "urn:oid:2.16.578.1.12.4.1.1.7170"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"


def client() -> RouterClient:
    return RouterClient(MemoryRepository())


def parameter(parameters: dict, name: str):
    for p in parameters["parameter"]:
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    raise KeyError(name)


def test_lookup_of_a_norwegian_code():
    response = client().get("CodeSystem/$lookup", query=[("system", ICPC2), ("code", "T90")])
    assert response.status == 200, response.parsed()
    assert "diabetes" in parameter(response.parsed(), "display").lower()


def test_expand_with_a_filter_for_type_ahead():
    response = client().get("ValueSet/$expand", query=[("url", GENDER_VS), ("filter", "fem")])
    assert response.status == 200, response.parsed()
    codes = [c["code"] for c in response.parsed()["expansion"]["contains"]]
    assert codes == ["female"]


def test_validate_code_in_and_out_of_a_value_set():
    c = client()
    inside = c.get("ValueSet/$validate-code", query=[("url", GENDER_VS),
                                                     ("system", "http://hl7.org/fhir/administrative-gender"),
                                                     ("code", "male")])
    outside = c.get("ValueSet/$validate-code", query=[("url", GENDER_VS),
                                                      ("system", "http://hl7.org/fhir/administrative-gender"),
                                                      ("code", "mann")])
    assert parameter(inside.parsed(), "result") is True
    assert parameter(outside.parsed(), "result") is False


def test_operation_on_the_wrong_type_is_not_found():
    response = client().get("Patient/$lookup", query=[("system", ICPC2), ("code", "T90")])
    assert response.status == 404
    outcome_of(response)


def test_unknown_code_system_is_not_found_with_an_outcome():
    response = client().get("CodeSystem/$lookup", query=[("system", "http://example.org/none"), ("code", "x")])
    assert response.status == 404
    assert "not known" in outcome_of(response)["issue"][0]["diagnostics"]


def test_missing_parameter_is_a_bad_request():
    response = client().get("CodeSystem/$lookup", query=[("system", ICPC2)])
    assert response.status == 400
    outcome_of(response)


def test_capability_statement_lists_terminology_operations_only_on_their_types():
    statement = client().get("metadata").parsed()
    by_type = {r["type"]: {o["name"] for o in r.get("operation", [])} for r in statement["rest"][0]["resource"]}
    assert {"lookup", "subsumes", "validate-code"} <= by_type["CodeSystem"]
    assert "expand" in by_type["ValueSet"]
    assert "translate" in by_type["ConceptMap"]
    assert not {"lookup", "expand", "translate"} & by_type["Patient"]
