"""$validate (resource-operation-validate.html): body forms, modes, profile, all issues."""

from __future__ import annotations

from ehelse.fhir.operations.validate import validate_operation

GOOD = {"resourceType": "Patient", "id": "p1", "gender": "female",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Kari</div>'}}
BAD = {"resourceType": "Patient", "gender": "kvinne", "active": "yes", "colour": 1}


def _issues(outcome):
    assert outcome["resourceType"] == "OperationOutcome"
    return [(i["severity"], i.get("expression", [None])[0]) for i in outcome["issue"]]


def test_valid_resource_gives_all_ok():
    status, outcome = validate_operation("Patient", GOOD, None, None, None)
    assert status == 200
    assert [i["severity"] for i in outcome["issue"]] == ["information"]


def test_all_issues_are_returned_with_expressions():
    status, outcome = validate_operation("Patient", BAD, None, None, None)
    assert status == 200
    errors = sorted(e for s, e in _issues(outcome) if s == "error")
    assert errors == ["Patient.active", "Patient.colour", "Patient.gender"]
    assert all(i["diagnostics"] and i["code"] for i in outcome["issue"])


def test_parameters_body_with_resource_mode_and_profile():
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": BAD},
        {"name": "mode", "valueCode": "create"},
    ]}
    status, outcome = validate_operation("Patient", body, None, None, None)
    assert status == 200 and len([s for s, _ in _issues(outcome) if s == "error"]) == 3
    body["parameter"][0]["resource"] = GOOD
    body["parameter"].append({"name": "profile", "valueUri": "http://hl7.org/fhir/StructureDefinition/bp"})
    status, outcome = validate_operation("Patient", body, None, None, None)
    assert ("error", "Patient") in _issues(outcome)  # bp is a profile on Observation


def test_validating_a_parameters_resource_itself():
    params = {"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]}
    status, outcome = validate_operation("Parameters", params, None, None, None)
    assert status == 200 and [s for s, _ in _issues(outcome)] == ["information"]


def test_instance_level_uses_the_stored_resource_when_no_body():
    status, outcome = validate_operation("Patient", None, BAD, None, None)
    assert status == 200 and any(s == "error" for s, _ in _issues(outcome))


def test_mode_delete_and_unknown_mode():
    assert validate_operation("Patient", None, GOOD, "delete", None)[0] == 200
    assert validate_operation("Patient", GOOD, None, "destroy", None)[0] == 400


def test_mode_update_needs_an_id_and_the_right_one():
    no_id = {"resourceType": "Patient"}
    _, outcome = validate_operation("Patient", no_id, None, "update", None)
    assert ("error", "Patient.id") in _issues(outcome)
    _, outcome = validate_operation("Patient", GOOD, {"resourceType": "Patient", "id": "other"}, "update", None)
    assert ("error", "Patient.id") in _issues(outcome)


def test_wrong_type_for_the_endpoint():
    _, outcome = validate_operation("Observation", GOOD, None, None, None)
    assert ("error", "resourceType") in _issues(outcome)


def test_nothing_to_validate_is_a_400():
    status, outcome = validate_operation("Patient", None, None, None, None)
    assert status == 400 and outcome["issue"][0]["severity"] == "error"


def test_garbage_body_is_reported_not_raised():
    status, outcome = validate_operation("Patient", ["not", "a", "resource"], None, None, None)
    assert status == 200 and _issues(outcome)[0][0] == "error"
