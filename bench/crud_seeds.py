"""The nine resources each CRUD iteration creates, and how they refer to each other.

Mirrors the HealthSamurai k6 CRUD scenario (github.com/HealthSamurai/fhir-server-performance-
benchmark, k6/crud.js): Patient, Location, Organization and Practitioner first; then an
Encounter pointing at all four; Observation and MedicationRequest in that Encounter; a Claim
for the prescription; an ExplanationOfBenefit for the Claim, with a contained ServiceRequest
and Coverage. The resources here are our own small valid R4 instances of those types; the
links (LINKS) are set at the same element paths as the k6 script does.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

# Creation order: a resource's references point only at resources created before it.
ORDER = ("Patient", "Location", "Organization", "Practitioner", "Encounter", "Observation",
         "MedicationRequest", "Claim", "ExplanationOfBenefit")

SEEDS: dict[str, dict[str, Any]] = {
    "Patient": {
        "resourceType": "Patient", "active": True,
        "name": [{"use": "official", "family": "Nordmann", "given": ["Kari"]}],
        "gender": "female", "birthDate": "1974-12-25",
        "address": [{"line": ["Storgata 1"], "city": "Oslo", "postalCode": "0155", "country": "NO"}],
    },
    "Location": {
        "resourceType": "Location", "status": "active", "name": "Legekontoret i Storgata",
        "mode": "instance",
        "address": {"line": ["Storgata 3"], "city": "Oslo", "postalCode": "0155", "country": "NO"},
    },
    "Organization": {
        "resourceType": "Organization", "active": True, "name": "Storgata legesenter",
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
    },
    "Practitioner": {
        "resourceType": "Practitioner", "active": True,
        "name": [{"family": "Lege", "given": ["Ola"], "prefix": ["Dr."]}], "gender": "male",
    },
    "Encounter": {
        "resourceType": "Encounter", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
                  "display": "ambulatory"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003",
                              "display": "Encounter for check up"}]}],
        "subject": {"reference": "Patient/?"},
        "participant": [{"individual": {"reference": "Practitioner/?"}}],
        "period": {"start": "2026-01-15T09:00:00+01:00", "end": "2026-01-15T09:30:00+01:00"},
        "location": [{"location": {"reference": "Location/?"}}],
        "serviceProvider": {"reference": "Organization/?"},
    },
    "Observation": {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}]},
        "subject": {"reference": "Patient/?"}, "encounter": {"reference": "Encounter/?"},
        "effectiveDateTime": "2026-01-15T09:10:00+01:00", "issued": "2026-01-15T09:10:00.000+01:00",
        "valueQuantity": {"value": 172.50, "unit": "cm", "system": "http://unitsofmeasure.org",
                          "code": "cm"},
    },
    "MedicationRequest": {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "313782", "display": "Acetaminophen 325 MG"}]},
        "subject": {"reference": "Patient/?"}, "encounter": {"reference": "Encounter/?"},
        "authoredOn": "2026-01-15T09:20:00+01:00", "requester": {"reference": "Practitioner/?"},
    },
    "Claim": {
        "resourceType": "Claim", "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "pharmacy"}]},
        "use": "claim", "patient": {"reference": "Patient/?"},
        "billablePeriod": {"start": "2026-01-15T09:00:00+01:00", "end": "2026-01-15T09:30:00+01:00"},
        "created": "2026-01-15T09:30:00+01:00", "provider": {"reference": "Organization/?"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                 "code": "normal"}]},
        "prescription": {"reference": "MedicationRequest/?"},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Folketrygden"}}],
        "item": [{"sequence": 1,
                  "productOrService": {"coding": [{"system": "http://snomed.info/sct",
                                                   "code": "185349003"}]},
                  "encounter": [{"reference": "Encounter/?"}]}],
        "total": {"value": 250.00, "currency": "NOK"},
    },
    "ExplanationOfBenefit": {
        "resourceType": "ExplanationOfBenefit", "status": "active",
        "contained": [
            {"resourceType": "ServiceRequest", "id": "referral", "status": "completed",
             "intent": "order", "subject": {"reference": "Patient/?"},
             "requester": {"reference": "Practitioner/?"},
             "performer": [{"reference": "Patient/?"}]},
            {"resourceType": "Coverage", "id": "coverage", "status": "active",
             "beneficiary": {"reference": "Patient/?"},
             "payor": [{"display": "Folketrygden"}]},
        ],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "pharmacy"}]},
        "use": "claim", "patient": {"reference": "Patient/?"},
        "created": "2026-01-15T09:30:00+01:00", "insurer": {"display": "Folketrygden"},
        "provider": {"reference": "Practitioner/?"},
        "referral": {"reference": "#referral"},
        "claim": {"reference": "Claim/?"}, "outcome": "complete",
        "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/?"}}],
        "insurance": [{"focal": True, "coverage": {"reference": "#coverage"}}],
        "item": [{"sequence": 1,
                  "productOrService": {"coding": [{"system": "http://snomed.info/sct",
                                                   "code": "185349003"}]},
                  "encounter": [{"reference": "Encounter/?"}]}],
    },
}

# (resource type, element path, referenced type): as in k6/crud.js's jsonPatch calls.
LINKS: tuple[tuple[str, str, str], ...] = (
    ("Encounter", "subject.reference", "Patient"),
    ("Encounter", "location.0.location.reference", "Location"),
    ("Encounter", "participant.0.individual.reference", "Practitioner"),
    ("Encounter", "serviceProvider.reference", "Organization"),
    ("Observation", "encounter.reference", "Encounter"),
    ("Observation", "subject.reference", "Patient"),
    ("MedicationRequest", "encounter.reference", "Encounter"),
    ("MedicationRequest", "requester.reference", "Practitioner"),
    ("MedicationRequest", "subject.reference", "Patient"),
    ("Claim", "patient.reference", "Patient"),
    ("Claim", "provider.reference", "Organization"),
    ("Claim", "prescription.reference", "MedicationRequest"),
    ("Claim", "item.0.encounter.0.reference", "Encounter"),
    ("ExplanationOfBenefit", "contained.0.subject.reference", "Patient"),
    ("ExplanationOfBenefit", "contained.0.requester.reference", "Practitioner"),
    ("ExplanationOfBenefit", "contained.0.performer.0.reference", "Patient"),
    ("ExplanationOfBenefit", "contained.1.beneficiary.reference", "Patient"),
    ("ExplanationOfBenefit", "patient.reference", "Patient"),
    ("ExplanationOfBenefit", "provider.reference", "Practitioner"),
    ("ExplanationOfBenefit", "claim.reference", "Claim"),
    ("ExplanationOfBenefit", "careTeam.0.provider.reference", "Practitioner"),
    ("ExplanationOfBenefit", "item.0.encounter.0.reference", "Encounter"),
)


def _set_path(resource: dict[str, Any], path: str, value: str) -> None:
    *parents, last = path.split(".")
    node: Any = resource
    for step in parents:
        node = node[int(step)] if step.isdigit() else node[step]
    node[last] = value


def linked(type: str, created_ids: dict[str, str]) -> dict[str, Any]:
    """A fresh copy of the seed for `type` with its references set to the created ids."""
    resource = copy.deepcopy(SEEDS[type])
    for source, path, target in LINKS:
        if source == type:
            _set_path(resource, path, f"{target}/{created_ids[target]}")
    return resource


def changed(resource: dict[str, Any]) -> dict[str, Any]:
    """The update k6/crud.js makes per type (changeResource): flip a status or gender,
    rename, or stamp a time, so every PUT is a real change."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    kind = resource["resourceType"]
    if kind == "Encounter":
        resource["status"] = "in-progress" if resource["status"] == "planned" else "planned"
    elif kind in ("Location", "Organization"):
        resource["name"] = f"{resource['name'].split('~')[0]}~{now}"
    elif kind == "MedicationRequest":
        resource["status"] = "draft" if resource["status"] == "on-hold" else "on-hold"
    elif kind == "Observation":
        resource["issued"] = now
    elif kind in ("Patient", "Practitioner"):
        resource["gender"] = "other" if resource.get("gender") == "unknown" else "unknown"
    else:
        resource["created"] = now
    return resource
