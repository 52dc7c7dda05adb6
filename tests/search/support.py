"""Shared helpers of the search tests: a small clinical world and the router client (the
`sql_repo` fixture is in conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from router_client import BASE, RouterClient, outcome_of  # noqa: E402

__all__ = ["BASE", "RouterClient", "outcome_of", "world", "ids_of", "bundle_ids"]

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
LOINC = "http://loinc.org"


def world(repo) -> dict[str, Any]:
    """Two patients with their GP office, observations, an encounter, a provenance, a list."""
    def put(resource: dict[str, Any]) -> None:
        repo.update(resource)

    put({"resourceType": "Organization", "id": "org1", "name": "Legekontoret",
         "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "974600951"}]})
    put({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Lege", "given": ["Liv"]}],
         "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": "9144900"}]})
    put({"resourceType": "Patient", "id": "p1", "name": [{"family": "Østby", "given": ["Åse"]}],
         "identifier": [{"system": FNR, "value": "13031353453"}],
         "managingOrganization": {"reference": "Organization/org1"},
         "generalPractitioner": [{"reference": "Practitioner/pr1"}]})
    put({"resourceType": "Patient", "id": "p2", "name": [{"family": "Hansen"}],
         "identifier": [{"system": FNR, "value": "01010112345"}]})
    put({"resourceType": "Encounter", "id": "e1", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": "Patient/p1"}, "period": {"start": "2024-03-01T10:00:00Z"}})
    put({"resourceType": "Observation", "id": "ob1", "status": "final",
         "identifier": [{"system": "urn:lab", "value": "lab-1"}],
         "code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "subject": {"reference": "Patient/p1"},
         "performer": [{"reference": "Practitioner/pr1"}], "effectiveDateTime": "2024-03-01T10:00:00Z",
         "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}})
    put({"resourceType": "Observation", "id": "ob2", "status": "final",
         "identifier": [{"system": "urn:lab", "value": "lab-2"}],
         "code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "subject": {"reference": "Patient/p2"},
         "effectiveDateTime": "2023-05-01"})
    put({"resourceType": "Observation", "id": "ob3", "status": "final",
         "identifier": [{"system": "urn:lab", "value": "lab-3"}],
         "code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "subject": {"reference": "Patient/p1"},
         "encounter": {"reference": "Encounter/e1"}, "effectiveDateTime": "2024-03-01T10:05:00Z"})
    put({"resourceType": "Provenance", "id": "prov1", "target": [{"reference": "Observation/ob1"}],
         "recorded": "2024-03-01T10:10:00Z", "agent": [{"who": {"reference": "Practitioner/pr1"}}]})
    put({"resourceType": "List", "id": "l1", "status": "current", "mode": "working",
         "entry": [{"item": {"reference": "Observation/ob1"}}, {"item": {"reference": "Observation/ob2"}}]})
    return {"fnr1": "13031353453", "fnr2": "01010112345"}


def ids_of(page) -> list[str]:
    return [v.id for v in page.entries]


def bundle_ids(response, mode: str | None = "match") -> list[str]:
    body = response.parsed()
    assert response.status == 200, body
    return [e["resource"]["id"] for e in body.get("entry", []) if mode is None or e["search"]["mode"] == mode]
