"""Representation and privacy as DOMAIN.md writes them: RelatedPerson and Consent.

- Parental responsibility: a RelatedPerson whose `patient` is the child, `identifier` the
  parent's FNR, `relationship` a code of no-basis-parental-responsibility (felles, mor, far,
  ...) beside the family relation, and the `no-basis-relatedperson-person-reference`
  extension pointing at the parent's own Patient. The extension's context is
  `RelatedPerson.patient` (its StructureDefinition), so that is where it sits.
- Fullmakt and nearest relative of a person lacking capacity: a Consent (patient = the
  giver, provision.actor = the holder's RelatedPerson, provision.period; service areas as
  provision.purpose; `category` tells the two apart).
- Block of a named practitioner, restriction (sperre) and reservation: Consent with
  provision.type = deny.

Consent per http://hl7.org/fhir/R4/consent.html (ppc-1: a policyRule is always given).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ehelse.nobasis.seed.datatypes import coding, concept, identifier, instant, ref
from ehelse.nobasis.seed.vocabulary import (
    AREA_DIGITAL_SERVICES, CONSENT_BLOCK, CONSENT_CATEGORY, CONSENT_FULLMAKT, CONSENT_LACK_OF_CAPACITY,
    CONSENT_RESERVATION, CONSENT_RESTRICTION, CONSENT_SCOPE, DNR, EXT_PERSON_REFERENCE, FAMILY_RELATION, FNR,
    FULLMAKT_AREA, LABEL_RESTRICTED, PARENTAL_RESPONSIBILITY, SECURITY_LABEL, V3_ACT_CODE,
    V3_PARTICIPATION, V3_ROLE_CODE, label, profile,
)

PARENTAL = {"felles": "Felles", "mor": "Mor", "far": "Far", "medmor": "Medmor", "andre": "Andre"}
FAMILY = {"mor": "Mor", "far": "Far", "medmor": "Medmor", "barn": "Barn", "ektefelleEllerPartner": "Ektefelle eller partner",
          "søsken": "Søsken"}


def related_person(id: str, patient: Any, other: Any, *, family: str | None, parental: str | None = None,
                   address: dict | None = None) -> dict[str, Any]:
    """`other` (a population.Person) in a relationship to `patient` (the person it concerns)."""
    system = DNR if other.dnr else FNR
    relationship = []
    if family:
        relationship.append(concept(FAMILY_RELATION, family, FAMILY[family]))
    if parental:
        relationship.append(concept(PARENTAL_RESPONSIBILITY, parental, PARENTAL[parental]))
    patient_ref = ref("Patient", patient.id, patient.display)
    patient_ref["extension"] = [{"url": EXT_PERSON_REFERENCE, "valueReference": ref("Patient", other.id, other.display)}]
    resource: dict[str, Any] = {
        "resourceType": "RelatedPerson", "id": id, "meta": {"profile": [profile("RelatedPerson")]},
        "identifier": [identifier(system, other.fnr, "official")], "active": True,
        "patient": patient_ref, "relationship": relationship,
        "name": [{"use": "official", "family": other.family, "given": [other.given]}],
        "gender": other.gender, "birthDate": other.birth_date.isoformat(),
    }
    if address:
        resource["address"] = [address]
    return resource


def _consent(id: str, category: tuple[str, str], giver: Any, signed: date, provision: dict[str, Any],
             rule: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent", "id": id, "status": "active",
        "scope": concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [concept(CONSENT_CATEGORY, *category)],
        "patient": ref("Patient", giver.id, giver.display), "dateTime": instant(signed, 10),
        "performer": [ref("Patient", giver.id, giver.display)],
        "policyRule": concept(V3_ACT_CODE, rule, "opt-in" if rule == "OPTIN" else "opt-out"),
        "provision": provision,
    }


def fullmakt(id: str, giver: Any, holder_related_person_id: str, holder_display: str, start: date,
             end: date | None) -> dict[str, Any]:
    """A fullmakt for service area 3 (digitale helsetjenester); `end` None for an open one."""
    period = {"start": start.isoformat()}
    if end:
        period["end"] = end.isoformat()
    provision = {
        "type": "permit", "period": period,
        "actor": [{"role": concept(V3_ROLE_CODE, "HPOWATT", "healthcare power of attorney"),
                   "reference": ref("RelatedPerson", holder_related_person_id, holder_display)}],
        "purpose": [coding(FULLMAKT_AREA, *AREA_DIGITAL_SERVICES)],
    }
    return _consent(id, CONSENT_FULLMAKT, giver, start, provision, "OPTIN")


def lack_of_capacity(id: str, person: Any, relative_related_person_id: str, relative_display: str,
                     start: date, end: date) -> dict[str, Any]:
    """Nearest relative acts for a person lacking capacity: at most 5 years (DOMAIN.md)."""
    provision = {
        "type": "permit", "period": {"start": start.isoformat(), "end": end.isoformat()},
        "actor": [{"role": concept(V3_ROLE_CODE, "NOK", "next of kin"),
                   "reference": ref("RelatedPerson", relative_related_person_id, relative_display)}],
        "purpose": [coding(FULLMAKT_AREA, *AREA_DIGITAL_SERVICES)],
    }
    return _consent(id, CONSENT_LACK_OF_CAPACITY, person, start, provision, "OPTIN")


def block(id: str, person: Any, practitioner_id: str, practitioner_display: str, signed: date) -> dict[str, Any]:
    """The person blocks one named practitioner from their summary record (holds in emergencies)."""
    provision = {
        "type": "deny", "period": {"start": signed.isoformat()},
        "actor": [{"role": concept(V3_PARTICIPATION, "IRCP", "information recipient"),
                   "reference": ref("Practitioner", practitioner_id, practitioner_display)}],
    }
    return _consent(id, CONSENT_BLOCK, person, signed, provision, "OPTOUT")


def restriction(id: str, person: Any, signed: date) -> dict[str, Any]:
    """Sperre: data labelled `restricted-by-patient` open only on declared consent or emergency."""
    provision = {"type": "deny", "period": {"start": signed.isoformat()},
                 "securityLabel": [label(SECURITY_LABEL, LABEL_RESTRICTED)]}
    return _consent(id, CONSENT_RESTRICTION, person, signed, provision, "OPTOUT")


def reservation(id: str, person: Any, signed: date) -> dict[str, Any]:
    """Reserved against having a summary record (kjernejournal) at all."""
    return _consent(id, CONSENT_RESERVATION, person, signed, {"type": "deny", "period": {"start": signed.isoformat()}},
                    "OPTOUT")
