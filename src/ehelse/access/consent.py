"""The patient's privacy Consents, enforced (DOMAIN.md, "Citizen privacy settings").

    block        Consent deny, actor = a Practitioner (or PractitionerRole): that person
                 sees none of the patient's clinical data, not even in an emergency
    restriction  Consent deny with provision.securityLabel: data with those meta.security
                 labels open to personnel only with a declared purpose (logged)
    reservation  Consent deny without actor or label: no summary record, so no emergency
                 access from outside the patient's own care relationships
    fullmakt, lack-of-capacity: see representation.py

Only the patient, or a representative whose relation allows it (policy.RIGHTS: parents of a
child under 12), may create, change or withdraw them; a fullmakt holder is a helper, and
consents stay with the giver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ehelse.access.lookup import codes, find, in_period, ref_id
from ehelse.nobasis.seed.vocabulary import CONSENT_BLOCK, CONSENT_CATEGORY, CONSENT_RESERVATION


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    blocked: frozenset[str]  # Practitioner/x and PractitionerRole/y references
    restricted_labels: frozenset[str]
    reserved: bool


def _active_deny(consent: dict[str, Any], today: date) -> dict[str, Any] | None:
    provision = consent.get("provision") or {}
    if consent.get("status") != "active" or provision.get("type") != "deny":
        return None
    return provision if in_period(provision.get("period"), today) else None


def privacy_settings(repo: Any, patient_id: str, today: date) -> PrivacySettings:
    blocked, labels, reserved = set(), set(), False
    for consent in find(repo, "Consent", strict=True, patient=f"Patient/{patient_id}"):
        provision = _active_deny(consent, today)
        if provision is None:
            continue
        category = {code for system, code in codes(consent.get("category")) if system == CONSENT_CATEGORY}
        for actor in provision.get("actor") or []:
            for type in ("Practitioner", "PractitionerRole"):
                id = ref_id(actor.get("reference"), type)
                if id:
                    blocked.add(f"{type}/{id}")
        labels |= {code for _, code in codes(provision.get("securityLabel"))}
        if CONSENT_RESERVATION[0] in category:
            reserved = True
    return PrivacySettings(frozenset(blocked), frozenset(labels), reserved)


def blocking_patients(repo: Any, references: list[str], today: date) -> set[str]:
    """Patients who have blocked this practitioner (any of their references)."""
    if not references:
        return set()
    out = set()
    for consent in find(repo, "Consent", strict=True, actor=references):
        provision = _active_deny(consent, today)
        if provision is None:
            continue
        category = {code for system, code in codes(consent.get("category")) if system == CONSENT_CATEGORY}
        if category and CONSENT_BLOCK[0] not in category:
            continue
        patient = ref_id(consent.get("patient"), "Patient")
        if patient:
            out.add(patient)
    return out


def consent_patient(resource: dict[str, Any]) -> str | None:
    """Whose consent a Consent resource is: only that patient (or whoever may manage their
    consents) may write it."""
    return ref_id(resource.get("patient"), "Patient")
