"""A small seeded world for the access tests: the demo cast (seed of 20) plus hand-made
people for the edge dates (a child turning 12 or 16 today, a parent not at the child's
address, a fullmakt that expired yesterday), and one Observation and QuestionnaireResponse
per person the matrix touches, so every allowed case has something to find."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.nobasis.identifiers.synthetic import synthetic_fnr
from ehelse.nobasis.seed import DEMO_CAST, seed
from ehelse.nobasis.seed.vocabulary import (
    CONSENT_CATEGORY, FNR, FULLMAKT_AREA, PARENTAL_RESPONSIBILITY, SECURITY_LABEL,
)

TODAY = date(2026, 11, 27)
YESTERDAY = TODAY - timedelta(days=1)
C = DEMO_CAST
_rng = random.Random(12)


def years_ago(years: int, *, days: int = 0) -> date:
    return TODAY.replace(year=TODAY.year - years) - timedelta(days=days)


def _address(line: str) -> dict[str, Any]:
    return {"use": "home", "line": [line], "postalCode": "0150", "city": "OSLO", "country": "NO"}


def _patient(id: str, born: date, line: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": id,
            "identifier": [{"system": FNR, "value": synthetic_fnr(born, "female", _rng)}],
            "name": [{"family": "Testesen", "given": [id]}], "birthDate": born.isoformat(),
            "address": [_address(line)]}


def _parent(id: str, child: str, parent: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "RelatedPerson", "id": id, "active": True, "patient": {"reference": f"Patient/{child}"},
            "identifier": [{"system": FNR, "value": parent["identifier"][0]["value"]}],
            "relationship": [{"coding": [{"system": PARENTAL_RESPONSIBILITY, "code": "felles"}]}]}


def observation(patient: str, id: str | None = None, **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Blodtrykk"},
                "subject": {"reference": f"Patient/{patient}"}, **extra}
    if id:
        resource["id"] = id
    return resource


def questionnaire_response(patient: str) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": f"Patient/{patient}"}}


def build(repo: Any) -> dict[str, Any]:
    """Seed the world into an empty, upgraded repository; returns the hand-made people."""
    seed(repo, 20, 1, reference_date=TODAY, validate_every=0)
    people: dict[str, dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []

    def person(key: str, born: date, line: str) -> dict[str, Any]:
        people[key] = _patient(f"t-{key}", born, line)
        extra.append(people[key])
        return people[key]

    # A family at one address: a child turning 12 today and one turning 16 today.
    parent = person("parent", years_ago(40), "Testveien 1")
    for key, born in (("turns12", years_ago(12)), ("turns16", years_ago(16)), ("aged17", years_ago(17, days=30))):
        person(key, born, "Testveien 1")
        extra.append(_parent(f"t-rp-{key}", f"t-{key}", parent))
    # A child living with a grandparent: the parent with responsibility lives elsewhere.
    away = person("away-parent", years_ago(38), "Andre vei 9")
    person("grandchild", years_ago(8), "Bestemorveien 3")
    person("grandmother", years_ago(70), "Bestemorveien 3")
    extra.append(_parent("t-rp-away", "t-grandchild", away))
    # A fullmakt that ended yesterday.
    giver, holder = person("giver", years_ago(80), "Eldreveien 2"), person("holder", years_ago(50), "Annen gate 4")
    extra.append({"resourceType": "RelatedPerson", "id": "t-rp-holder", "active": True,
                  "patient": {"reference": f"Patient/{giver['id']}"},
                  "identifier": [{"system": FNR, "value": holder["identifier"][0]["value"]}]})
    extra.append({"resourceType": "Consent", "id": "t-fullmakt-expired", "status": "active",
                  "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                        "code": "patient-privacy"}]},
                  "category": [{"coding": [{"system": CONSENT_CATEGORY, "code": "fullmakt"}]}],
                  "patient": {"reference": f"Patient/{giver['id']}"}, "policyRule": {"text": "fullmakt"},
                  "provision": {"type": "permit", "period": {"start": "2025-01-01", "end": YESTERDAY.isoformat()},
                                "actor": [{"role": {"text": "holder"}, "reference": {"reference": "RelatedPerson/t-rp-holder"}}],
                                "purpose": [{"system": FULLMAKT_AREA, "code": "3"}]}})
    for resource in extra:
        repo.update(resource)
    # Something to find in every record the matrix looks at.
    for patient in ("demo-kari", "demo-emma", "demo-jonas", "demo-astrid", "demo-knut", "demo-per", "demo-sara",
                    "t-turns12", "t-turns16", "t-aged17", "t-grandchild", "t-giver"):
        repo.create(observation(patient), id=f"obs-{patient}")
        repo.create(questionnaire_response(patient), id=f"qr-{patient}")
    # What parents of a 12-15 year old must not see: a journal document, a withheld label.
    repo.create({"resourceType": "DocumentReference", "status": "current", "content": [{"attachment": {"title": "Notat"}}],
                 "subject": {"reference": "Patient/demo-jonas"}}, id="doc-demo-jonas")
    repo.create(observation("demo-jonas", meta={"security": [{"system": SECURITY_LABEL, "code": "withheld-from-parents"}]}),
                id="obs-withheld-demo-jonas")
    return people


SCOPES = {"patient": "launch/patient patient/*.cruds", "practitioner": "user/*.cruds", "admin": "system/*.*",
          "system": "system/Observation.rs system/Patient.rs system/QuestionnaireResponse.rs"}


def actor(kind: str, subject: str, **kw: Any) -> Actor:
    scopes = kw.pop("scopes", SCOPES[kind])
    kw.setdefault("token_id", f"tok-{kind}-{subject}-{kw.get('purpose')}-{kw.get('patient')}")
    return Actor(kind, subject, tuple(scopes.split()), **kw)


def secured(repo: Any, who: Actor, today: date = TODAY) -> SecuredRepository:
    return SecuredRepository(repo, who, AccessPolicy(today))
