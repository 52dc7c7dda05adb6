"""Encounters, diagnoses (Condition) and referrals (ServiceRequest).

An Encounter at the practitioner's organisation is also what gives health personnel a care
relationship (DOMAIN.md), so every one names its `serviceProvider` and the PractitionerRole
that took part. Encounter: http://hl7.org/fhir/R4/encounter.html (class from v3 ActCode:
AMB at the GP, IMP in hospital, HH at home); Condition: condition.html (con-4: an abated
condition is resolved); ServiceRequest: servicerequest.html (a referral is intent `order`,
category SNOMED CT 3457005 "Patient referral").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ehelse.nobasis.seed.datatypes import concept, instant, period, ref
from ehelse.nobasis.seed.organisations import Staff, Unit
from ehelse.nobasis.seed.vocabulary import (
    CONDITION_CATEGORY, CONDITION_CLINICAL, CONDITION_VERIFICATION, SNOMED, V3_ACT_CODE,
)

CLASSES = {"AMB": "ambulatory", "IMP": "inpatient encounter", "HH": "home health", "VR": "virtual"}


def encounter(id: str, patient: Any, staff: Staff, unit: Unit, klass: str, start: date, *, end: date | None = None,
              hour: int = 9, reason: tuple[str, str, str] | None = None, condition_ids: list[str] = (),
              status: str = "finished", based_on: str | None = None, episode_id: str | None = None,
              appointment_id: str | None = None) -> dict[str, Any]:
    """`reason` is (system, code, display)."""
    resource: dict[str, Any] = {
        "resourceType": "Encounter", "id": id, "status": status,
        "class": {"system": V3_ACT_CODE, "code": klass, "display": CLASSES[klass]},
        "subject": ref("Patient", patient.id, patient.display),
    }
    if episode_id:
        resource["episodeOfCare"] = [ref("EpisodeOfCare", episode_id)]
    if based_on:
        resource["basedOn"] = [ref("ServiceRequest", based_on)]
    resource["participant"] = [{"individual": staff.role()}]
    if appointment_id:
        resource["appointment"] = [ref("Appointment", appointment_id)]
    resource["period"] = period(start, end, hour=hour, hours=0.25 if klass != "HH" else 0.5)
    if status == "in-progress":
        del resource["period"]["end"]
    if reason:
        resource["reasonCode"] = [concept(*reason)]
    if condition_ids:
        resource["diagnosis"] = [{"condition": ref("Condition", c), "rank": i + 1} for i, c in enumerate(condition_ids)]
    resource["serviceProvider"] = unit.ref()
    return resource


def condition(id: str, patient: Any, code: tuple[str, str, str], onset: date, *, recorder: Staff,
              encounter_id: str | None = None, problem_list: bool = False, resolved: date | None = None,
              security: list[dict] | None = None) -> dict[str, Any]:
    """A diagnosis: on the problem list (chronic, active) or for one encounter (resolved)."""
    resource: dict[str, Any] = {"resourceType": "Condition", "id": id}
    if security:
        resource["meta"] = {"security": security}
    clinical = "resolved" if resolved else "active"
    resource["clinicalStatus"] = concept(CONDITION_CLINICAL, clinical, clinical.title())
    resource["verificationStatus"] = concept(CONDITION_VERIFICATION, "confirmed", "Confirmed")
    resource["category"] = [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item") if problem_list
                            else concept(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")]
    resource["code"] = concept(*code)
    resource["subject"] = ref("Patient", patient.id, patient.display)
    if encounter_id:
        resource["encounter"] = ref("Encounter", encounter_id)
    resource["onsetDateTime"] = onset.isoformat()
    if resolved:
        resource["abatementDateTime"] = resolved.isoformat()
    resource["recordedDate"] = onset.isoformat()
    resource["recorder"] = recorder.role()
    return resource


def referral(id: str, patient: Any, gp: Staff, to: Unit, authored: date, reason: tuple[str, str, str], *,
             status: str) -> dict[str, Any]:
    """A GP's referral to a hospital department (henvisning); `active` while the patient waits."""
    return {
        "resourceType": "ServiceRequest", "id": id, "status": status, "intent": "order",
        "category": [concept(SNOMED, "3457005", "Patient referral", "Henvisning")],
        "code": {"text": f"Henvisning til {to.name.split(',')[0].lower()}"},
        "subject": ref("Patient", patient.id, patient.display),
        "authoredOn": instant(authored, 11),
        "requester": gp.role(),
        "performer": [to.ref()],
        "reasonCode": [concept(*reason)],
    }


def episode_of_care(id: str, patient: Any, unit: Unit, manager: Staff, start: date) -> dict[str, Any]:
    """Home care (hjemmetjeneste) as an active EpisodeOfCare at the home-care service."""
    return {
        "resourceType": "EpisodeOfCare", "id": id, "status": "active",
        "type": [{"text": "Hjemmesykepleie"}],
        "patient": ref("Patient", patient.id, patient.display),
        "managingOrganization": unit.ref(),
        "period": {"start": start.isoformat()},
        "careManager": manager.practitioner(),
    }
