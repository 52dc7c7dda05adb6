"""References (references.html#literal): well formed, and to an allowed target type."""

from __future__ import annotations

import pytest

from ehelse.fhir.validation import validate
from ehelse.fhir.validation.model import model
from ehelse.fhir.validation.references import parse


def subject(reference, **extra):
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": reference, **extra}}


def errors(resource):
    return [(i.expression, i.diagnostics) for i in validate(resource) if i.is_error]


@pytest.mark.parametrize("reference", [
    "Patient/123", "Patient/a.b-c/_history/2", "http://example.org/fhir/Patient/1",
    "https://example.org/fhir/Patient/1/_history/3", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
    "urn:oid:1.2.3", "Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|12345678901",
])
def test_well_formed_references(reference):
    assert errors(subject(reference)) == []


@pytest.mark.parametrize("reference", [
    "Patient", "Patient/", "Patient/has space", "patient/1", "Pasient/1", "urn:isbn:123",
    "urn:uuid:not-a-uuid", "# x", "http://", "just words",
])
def test_malformed_references(reference):
    found = errors(subject(reference))
    assert found and found[0][0] == "Observation.subject.reference"


def test_a_bare_hash_refers_to_the_container():
    # well formed (references.html#contained); whether a container exists is ref-1's business
    assert parse("#", model().resource_types) == (None, None, "")


def test_target_type_must_be_allowed():
    found = errors({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                    "specimen": {"reference": "Patient/1"}})
    assert found == [("Observation.specimen.reference",
                      "a reference to Patient is not allowed here: expected Specimen")]


def test_absolute_restful_urls_are_type_checked_too():
    found = errors({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                    "specimen": {"reference": "http://example.org/fhir/Patient/1"}})
    assert [e for e, _ in found] == ["Observation.specimen.reference"]


def test_reference_type_element_is_checked():
    found = errors({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                    "specimen": {"type": "Patient", "identifier": {"value": "1"}}})
    assert [e for e, _ in found] == ["Observation.specimen.type"]


def test_any_resource_target_accepts_all_types():
    assert errors({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "focus": [{"reference": "Medication/1"}]}) == []


def test_contained_reference_must_resolve():
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "contained": [{"resourceType": "Patient", "id": "p"}],
                "subject": {"reference": "#p"}}
    assert errors(resource) == []
    resource["subject"]["reference"] = "#q"
    assert [e for e, _ in errors(resource)] == ["Observation.subject.reference"]


def test_parsed_references_are_remembered_only_when_well_formed():
    """references.parse keeps well-formed references (a write refers to the same patient
    again and again); the answers are the same the second time, malformed ones are parsed
    (and rejected) every time, and clear_known forgets them."""
    from ehelse.fhir.validation import references
    from ehelse.fhir.validation.model import model
    from ehelse.fhir.validation.primitives import clear_known

    types = model().resource_types
    cases = ["Patient/1", "urn:uuid:6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2", "#p1",
             "http://example.org/fhir/Observation/2/_history/3", "Foo/1", "urn:uuid:NOT-A-UUID", "#a b"]
    first = [references.parse(c, types) for c in cases]
    assert [message is None for message, _, _ in first] == [True, True, True, True, False, False, False]
    assert [references.parse(c, types) for c in cases] == first
    assert set(references._KNOWN) >= set(cases[:4]) and not set(references._KNOWN) & set(cases[4:])
    clear_known()
    assert references._KNOWN == {}
    assert [references.parse(c, types) for c in cases] == first
