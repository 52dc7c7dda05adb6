"""Identifier systems: OID and HL7 Norway URI forms, both ways; the write-time resource check."""

from __future__ import annotations

import pytest

from ehelse.nobasis import naming
from ehelse.nobasis.identifiers import check_resource_identifiers

FNR_OID = "urn:oid:2.16.578.1.12.4.1.4.1"
FNR_URI = "http://hl7.no/fhir/NamingSystem/FNR"


@pytest.mark.parametrize("oid, uri", [
    (FNR_OID, FNR_URI),
    ("urn:oid:2.16.578.1.12.4.1.4.2", "http://hl7.no/fhir/NamingSystem/DNR"),
    ("urn:oid:2.16.578.1.12.4.1.4.3", "http://hl7.no/fhir/NamingSystem/FHNR"),
    ("urn:oid:2.16.578.1.12.4.1.4.4", "http://hl7.no/fhir/NamingSystem/HPR"),
])
def test_both_forms_canonicalise_to_the_oid(oid, uri):
    assert naming.canonical_system(oid) == oid
    assert naming.canonical_system(uri) == oid
    assert naming.uri_form(oid) == uri
    assert naming.oid_form(uri) == oid
    assert set(naming.system_forms(uri)) >= {oid, uri}


def test_fhn_alias_and_case_insensitive_uri():
    assert naming.canonical_system("http://hl7.no/fhir/NamingSystem/FHN") == "urn:oid:2.16.578.1.12.4.1.4.3"
    assert naming.canonical_system("http://hl7.no/fhir/NamingSystem/fnr") == FNR_OID


def test_organisation_systems():
    assert naming.canonical_system("urn:oid:2.16.578.1.12.4.1.4.101") == "urn:oid:2.16.578.1.12.4.1.4.101"
    assert naming.identifier_system("urn:oid:2.16.578.1.12.4.1.4.102") is naming.RESH
    assert naming.identifier_system("urn:oid:2.16.578.1.12.4.1.2") is naming.HER


def test_unknown_systems_pass_through():
    assert naming.canonical_system("http://example.org/mrn") == "http://example.org/mrn"
    assert naming.system_forms("http://example.org/mrn") == ("http://example.org/mrn",)
    assert naming.identifier_system(None) is None
    assert naming.oid_form("http://example.org/mrn") is None


def test_hnr_literal_system_is_its_own_canonical_form():
    assert naming.canonical_system("HNR") == "HNR"


def _patient(system, value):
    return {"resourceType": "Patient", "identifier": [{"system": "http://example.org/mrn", "value": "x"},
                                                      {"system": system, "value": value}]}


@pytest.mark.parametrize("system", [FNR_OID, FNR_URI])
def test_resource_check_flags_bad_fnr_in_either_form(system):
    issues = check_resource_identifiers(_patient(system, "13116900217"))
    assert len(issues) == 1
    assert issues[0].is_error and issues[0].expression == "Patient.identifier[1].value"
    assert "check digits" in issues[0].diagnostics


def test_resource_check_accepts_valid_and_synthetic_numbers():
    assert check_resource_identifiers(_patient(FNR_URI, "13116900216")) == []
    assert check_resource_identifiers(_patient(FNR_OID, "03851656870")) == []  # month + 80
    assert check_resource_identifiers(_patient(FNR_OID, "30108299939")) == []  # 2032 rule


def test_resource_check_walks_contained_bundles_and_references():
    bad = {"system": "http://hl7.no/fhir/NamingSystem/DNR", "value": "41116900216"}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Practitioner", "identifier": [bad]}},
        {"resource": {"resourceType": "Observation", "subject": {"identifier": bad}}},
        {"resource": {"resourceType": "Patient", "contained": [{"resourceType": "RelatedPerson",
                                                                "identifier": [bad]}]}},
    ]}
    expressions = [i.expression for i in check_resource_identifiers(bundle) if i.is_error]
    assert expressions == ["Bundle.entry[0].resource.identifier[0].value",
                           "Bundle.entry[1].resource.subject.identifier.value",
                           "Bundle.entry[2].resource.contained[0].identifier[0].value"]


def test_wrong_kind_for_system_is_a_warning():
    issues = check_resource_identifiers(_patient(FNR_OID, "71924429121"))  # a synthetic D-nummer
    assert [(i.severity, i.expression) for i in issues] == [("warning", "Patient.identifier[1].value")]


def test_bad_orgnr_is_a_warning():
    org = {"resourceType": "Organization",
           "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "915933148"}]}
    issues = check_resource_identifiers(org)
    assert [i.severity for i in issues] == ["warning"]


def test_no_basis_examples_with_bad_fnrs_are_the_two_rejected(shared_dir):
    """DOMAIN.md: of the package examples, exactly EspenEksempel and Pasient-Middle-Name-1 fail."""
    import json
    import tarfile

    rejected = []
    with tarfile.open(shared_dir / "fhir" / "hl7.fhir.no.basis-2.2.3.tgz") as package:
        for member in package.getmembers():
            if member.name.startswith("package/example/") and member.name.endswith(".json"):
                resource = json.load(package.extractfile(member))
                if any(i.is_error for i in check_resource_identifiers(resource)):
                    rejected.append(member.name.rsplit("/", 1)[1])
    assert sorted(rejected) == ["Patient-EspenEksempel.json", "Patient-Pasient-Middle-Name-1.json"]
