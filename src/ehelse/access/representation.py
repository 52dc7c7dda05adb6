"""Whom a citizen may act for, and with what limits (DOMAIN.md, "Citizens: representation").

    child under 12   parents with parental responsibility, if at least one of them is
                     registered at the child's home address          -> relation "parent"
    child 12-15      the same parents, limited (no journal documents, nothing labelled
                     withheld-from-parents)                          -> "parent-limited"
    16 and over      nothing without a fullmakt
    fullmakt         Consent (category fullmakt) naming the holder's RelatedPerson, active,
                     inside its period, giver over 16, holder over 18 -> "fullmakt"
    lack of capacity Consent (category lack-of-capacity), person over 12, relative over 18,
                     at most five years                              -> "nearest-relative"
    confidential address: such a person cannot represent others and no one represents them.

Everything is decided again on every request with the request's date, so the day a child
turns 12 or a fullmakt ends the answer changes (only the facts are cached, briefly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ehelse.access.lookup import age, codes, find, in_period, load, ref_id, security_codes
from ehelse.access.policy import CONFIDENTIAL_ADDRESS, STRICTLY_CONFIDENTIAL_ADDRESS
from ehelse.nobasis.seed.vocabulary import (
    AREA_DIGITAL_SERVICES, CONSENT_CATEGORY, CONSENT_FULLMAKT, CONSENT_LACK_OF_CAPACITY, FULLMAKT_AREA,
    PARENTAL_RESPONSIBILITY,
)

# The service areas a fullmakt may name that open the record in this platform: area 3,
# "digitale helsetjenester" (Helsenorge's own area for the digital health services).
RECORD_AREAS = frozenset({(FULLMAKT_AREA, AREA_DIGITAL_SERVICES[0])})
MAX_CAPACITY_YEARS = 5


@dataclass(frozen=True, slots=True)
class Representation:
    patient_id: str  # the Patient acted for
    relation: str  # self | parent | parent-limited | fullmakt | nearest-relative
    basis: str  # the resource that gives it: Patient/x, RelatedPerson/y or Consent/z


def is_confidential(patient: dict[str, Any] | None) -> bool:
    return bool(patient) and bool(security_codes(patient) & {CONFIDENTIAL_ADDRESS, STRICTLY_CONFIDENTIAL_ADDRESS})


def find_patient(repo: Any, person_number: str) -> dict[str, Any] | None:
    """The Patient with this FNR or D-number (the `pid` of ID-porten)."""
    found = find(repo, "Patient", identifier=person_number)
    return found[0] if found else None


def home_addresses(patient: dict[str, Any]) -> set[tuple]:
    out = set()
    for address in patient.get("address") or []:
        if isinstance(address, dict) and address.get("use", "home") == "home" and address.get("type") != "postal":
            out.add((tuple(address.get("line") or ()), address.get("postalCode"), (address.get("city") or "").upper()))
    return out


def representations(repo: Any, person_number: str, today: date) -> dict[str, Representation]:
    """Patient id -> how the citizen with this FNR may act for that patient (self included)."""
    me = find_patient(repo, person_number)
    if me is None:
        return {}
    out = {me["id"]: Representation(me["id"], "self", f"Patient/{me['id']}")}
    if is_confidential(me):
        return out  # a person with a confidential address cannot represent others
    my_age = age(me.get("birthDate"), today)
    for related in find(repo, "RelatedPerson", identifier=person_number):
        if related.get("active") is False:
            continue
        patient_id = ref_id(related.get("patient"), "Patient")
        patient = load(repo, "Patient", patient_id) if patient_id else None
        if patient is None or patient_id == me["id"] or is_confidential(patient):
            continue
        found = _parental(repo, related, patient, today) or _by_consent(repo, related, patient, my_age, today)
        if found is not None:
            previous = out.get(patient_id)
            if previous is None or _rank(found.relation) < _rank(previous.relation):
                out[patient_id] = found
    return out


def _rank(relation: str) -> int:
    return ("self", "parent", "nearest-relative", "fullmakt", "parent-limited").index(relation)


def _has_parental_responsibility(related: dict[str, Any]) -> bool:
    return any(system == PARENTAL_RESPONSIBILITY for system, _ in codes(related.get("relationship")))


def _parental(repo: Any, related: dict[str, Any], child: dict[str, Any], today: date) -> Representation | None:
    if not _has_parental_responsibility(related):
        return None
    years = age(child.get("birthDate"), today)
    if years is None or years >= 16:
        return None  # of age for health matters: a fullmakt or nothing
    if not _a_parent_lives_with(repo, child):
        return None
    relation = "parent" if years < 12 else "parent-limited"
    return Representation(child["id"], relation, f"RelatedPerson/{related['id']}")


def _a_parent_lives_with(repo: Any, child: dict[str, Any]) -> bool:
    """At least one parent with parental responsibility is registered at the child's home
    address (DOMAIN.md): the parent's own Patient, found by the RelatedPerson's identifier."""
    home = home_addresses(child)
    if not home:
        return False
    for parent in find(repo, "RelatedPerson", patient=f"Patient/{child['id']}"):
        if not _has_parental_responsibility(parent) or parent.get("active") is False:
            continue
        for identifier in parent.get("identifier") or []:
            own = find_patient(repo, identifier.get("value", "")) if identifier.get("value") else None
            if own is not None and home & home_addresses(own):
                return True
    return False


def _by_consent(repo: Any, related: dict[str, Any], patient: dict[str, Any], my_age: int | None,
                today: date) -> Representation | None:
    for consent in find(repo, "Consent", actor=f"RelatedPerson/{related['id']}"):
        if consent.get("status") != "active" or ref_id(consent.get("patient"), "Patient") != patient["id"]:
            continue
        provision = consent.get("provision") or {}
        if provision.get("type") != "permit" or not in_period(provision.get("period"), today):
            continue
        if not codes(provision.get("purpose")) & RECORD_AREAS:
            continue
        category = {code for system, code in codes(consent.get("category")) if system == CONSENT_CATEGORY}
        their_age = age(patient.get("birthDate"), today)
        if my_age is None or my_age < 18 or their_age is None:
            continue
        if CONSENT_FULLMAKT[0] in category and their_age >= 16:
            return Representation(patient["id"], "fullmakt", f"Consent/{consent['id']}")
        if CONSENT_LACK_OF_CAPACITY[0] in category and their_age >= 12 and _within_years(provision.get("period")):
            return Representation(patient["id"], "nearest-relative", f"Consent/{consent['id']}")
    return None


def _within_years(period: Any) -> bool:
    try:
        start = date.fromisoformat(period["start"][:10])
        end = date.fromisoformat(period["end"][:10])
    except (TypeError, KeyError, ValueError):
        return False  # open-ended: the law says at most five years
    return (end - start).days <= MAX_CAPACITY_YEARS * 366
