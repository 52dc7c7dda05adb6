"""Norwegian rules on the write path: a Patient whose FNR or D-nummer fails its check digits is
rejected with an OperationOutcome pointing at the identifier (DOMAIN.md, Identifiers); the
deployment's required profiles are enforced (setting required_profiles)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirRequest
from ehelse.fhir.router import Router
from ehelse.nobasis.identifiers import synthetic_fnr
from ehelse.settings import Settings
from ehelse.storage.memory import MemoryRepository

FNR_OID = "urn:oid:2.16.578.1.12.4.1.4.1"
FNR_URI = "http://hl7.no/fhir/NamingSystem/FNR"
DNR_OID = "urn:oid:2.16.578.1.12.4.1.4.2"


def create(resource, **settings):
    router = Router(Settings.from_env({}, validate=True, **settings))
    request = FhirRequest("POST", resource["resourceType"], body=jsoncodec.dumps(resource),
                          headers={"content-type": "application/fhir+json"})
    response = router.handle(request, MemoryRepository())
    return response.status, response.parsed()


def patient(system, value):
    return {"resourceType": "Patient", "identifier": [{"system": system, "value": value}],
            "name": [{"family": "Nordmann", "given": ["Kari"]}]}


def synthetic() -> str:
    return synthetic_fnr(date(1969, 11, 13), "female", random.Random(7))


@pytest.mark.parametrize("system", [FNR_OID, FNR_URI])
@pytest.mark.parametrize("value", ["13116900216", "31129956715", "synthetic"])
def test_valid_and_synthetic_fnr_are_accepted(system, value):
    value = synthetic() if value == "synthetic" else value
    status, body = create(patient(system, value))
    assert status == 201, body


@pytest.mark.parametrize("system", [FNR_OID, FNR_URI])
def test_fnr_with_wrong_check_digits_is_rejected(system):
    status, body = create(patient(system, "13116900217"))
    assert status in (400, 422)
    assert body["resourceType"] == "OperationOutcome"
    issue = next(i for i in body["issue"] if i["severity"] == "error")
    assert issue["expression"] == ["Patient.identifier[0].value"]


def test_d_nummer_with_wrong_check_digits_is_rejected():
    status, body = create(patient(DNR_OID, "53116900217"))
    assert status in (400, 422)
    assert any(i.get("expression") == ["Patient.identifier[0].value"] for i in body["issue"])


VITALS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
WEIGHT = {"resourceType": "Observation", "status": "final",
          "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "vital-signs"}]}],
          "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
          "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-01",
          "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}


def test_required_profile_is_enforced():
    assert create(dict(WEIGHT), required_profiles=f"Observation={VITALS}")[0] == 201
    without_category = {k: v for k, v in WEIGHT.items() if k != "category"}
    status, body = create(without_category, required_profiles=f"Observation={VITALS}")
    assert status == 422, body
    assert any(i["severity"] == "error" for i in body["issue"])
    # other types are not affected
    assert create({"resourceType": "Organization", "name": "Legekontoret"},
                  required_profiles=f"Observation={VITALS}")[0] == 201
