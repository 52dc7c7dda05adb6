"""Pseudonymised research extracts: same person, same pseudonym within a project; different
across projects; no FNR, name, street, phone or narrative in the output."""

from __future__ import annotations

import json

import pytest

from ehelse.analytics import library
from ehelse.analytics.engines import run
from ehelse.analytics.pseudonymise import (PseudonymisedSource, Pseudonymiser, declaration_files, load_key)
from ehelse.analytics.sources import InlineSource
from ehelse.analytics.viewdefinition import parse_view

KEY_A = b"project-a-secret-key-0123456789"
KEY_B = b"project-b-secret-key-0123456789"
FNR = "18830775214"
PATIENT = {
    "resourceType": "Patient", "id": "p1", "meta": {"versionId": "3"},
    "text": {"status": "generated", "div": "<div>Marie Moe, Thorsenplassen 16</div>"},
    "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": FNR}],
    "name": [{"family": "Moe", "given": ["Marie"]}], "telecom": [{"system": "phone", "value": "+47 91348170"}],
    "gender": "female", "birthDate": "2007-03-18",
    "address": [{"use": "home", "line": ["Thorsenplassen 16"], "city": "GRIMSTAD", "postalCode": "4877",
                 "district": "Grimstad", "_district": {"extension": [{
                     "url": "http://hl7.no/fhir/StructureDefinition/no-basis-municipalitycode",
                     "valueCoding": {"code": "4202"}}]}}],
}
OBSERVATION = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "CRP"},
               "subject": {"reference": "Patient/p1", "display": "Marie Moe"},
               "note": [{"text": "Marie said she felt unwell"}], "valueQuantity": {"value": 3, "unit": "mg/L"}}


def extract(key: bytes, precision: str = "year") -> list[dict]:
    p = Pseudonymiser(key, project="test", date_precision=precision)
    source = PseudonymisedSource(InlineSource([PATIENT, OBSERVATION]), p)
    return list(source.iter_resources("Patient")) + list(source.iter_resources("Observation"))


def test_same_person_same_pseudonym_within_a_project():
    first, second = extract(KEY_A), extract(KEY_A)
    assert first[0]["id"] == second[0]["id"] != "p1"
    assert first[1]["subject"]["reference"] == f"Patient/{first[0]['id']}"  # references follow
    other_record = dict(PATIENT, id="other-system-id")  # same FNR, another system's id
    p = Pseudonymiser(KEY_A)
    assert p.resource(other_record)["id"] == first[0]["id"]


def test_unlinkable_across_projects():
    a, b = extract(KEY_A), extract(KEY_B)
    assert a[0]["id"] != b[0]["id"]
    assert a[1]["id"] != b[1]["id"]  # other resource ids are keyed too


def test_no_direct_identifiers_or_free_text_left():
    text = json.dumps(extract(KEY_A))
    for secret in (FNR, "Moe", "Marie", "Thorsenplassen", "4877", "91348170", "felt unwell", "GRIMSTAD"):
        assert secret not in text, secret
    patient = extract(KEY_A)[0]
    assert patient["birthDate"] == "2007"
    assert patient["address"][0]["district"] == "Grimstad"  # the municipality stays
    assert patient["identifier"][0]["system"].startswith("urn:ehelse:pseudonym")
    assert extract(KEY_A, "month")[0]["birthDate"] == "2007-03"


def test_library_view_over_a_pseudonymised_source_on_duckdb():
    p = Pseudonymiser(KEY_A)
    source = PseudonymisedSource(InlineSource([PATIENT]), p)
    rows = list(run(parse_view(library.load("patient_demographics")), source, engine="duckdb").rows)
    assert rows == [{"patient_id": p.pseudonym(FNR), "gender": "female", "birth_year": "2007",
                     "kommunenummer": "4202", "kommune": "Grimstad", "active": None}]


def test_short_keys_are_refused(tmp_path):
    with pytest.raises(ValueError):
        Pseudonymiser(b"short")
    (tmp_path / "k").write_bytes(b"tiny")
    with pytest.raises(ValueError):
        load_key(tmp_path / "k")


def test_declaration_written_beside_the_output(tmp_path):
    p = Pseudonymiser(KEY_A, project="Studie 42")
    extract_rows = list(PseudonymisedSource(InlineSource([PATIENT]), p).iter_resources("Patient"))
    paths = declaration_files(tmp_path / "out.csv", p.declaration(view="patient_demographics", rows=1))
    declared = json.loads(paths[0].read_text())
    assert declared["project"] == "Studie 42" and declared["birthDates"] == "reduced to year"
    assert KEY_A.decode() not in paths[0].read_text() + paths[1].read_text()  # fingerprint only
    assert "personal data" in paths[1].read_text()
    assert extract_rows
