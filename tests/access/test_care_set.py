"""The care set (access/care.py `care_patients`) through its fast path (status-driven look-ups,
ids and references read without the exact codec) is the same set the plain look-ups give:
every relationship kind DOMAIN.md names, active and ended, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ehelse.access.care import ACTIVE, care_patients, personnel
from ehelse.access.lookup import find, ref_id
from ehelse.nobasis.seed import DEMO_CAST, seed
from ehelse.storage import open_repository

C = DEMO_CAST
TODAY = date(2026, 11, 27)
ENDED = {"EpisodeOfCare": "finished", "Encounter": "finished", "Appointment": "cancelled",
         "ServiceRequest": "revoked"}


def _plain(repo: Any, who: Any) -> set[str]:
    """The care set as DOMAIN.md states it, with the plain look-ups (full parse, the compiler's
    own choice of driving index): what the fast path must reproduce."""
    refs, orgs = who.references(), [f"Organization/{o}" for o in sorted(who.organization_ids)]
    out = {p["id"] for p in find(repo, "Patient", general_practitioner=refs)} if refs else set()
    looks = [("Appointment", "actor", refs, "participant"), ("EpisodeOfCare", "organization", orgs, "patient"),
             ("Encounter", "service_provider", orgs, "subject"), ("ServiceRequest", "performer", refs + orgs, "subject")]
    for type, param, values, element in looks:
        if not values:
            continue
        for resource in find(repo, type, **{param: values, "status": ACTIVE[type]}):
            value = resource.get(element)
            for item in value if isinstance(value, list) else [value]:
                target = item.get("actor") if isinstance(item, dict) and "actor" in item else item
                if ref_id(target, "Patient"):
                    out.add(ref_id(target, "Patient"))
    return out


def _relationships(repo: Any) -> dict[str, set[str]]:
    """One active and one ended resource of each kind from the GP (role or office) to fresh
    patients; returns the patients each practitioner must (active) and must not (ended) get."""
    gp = personnel(repo, C["gp"].hpr, C["gp"].orgnr)
    role, office = f"PractitionerRole/{sorted(gp.role_ids)[0]}", f"Organization/{sorted(gp.organization_ids)[0]}"
    want: dict[str, set[str]] = {"active": set(), "ended": set()}
    for type in ACTIVE:
        for state, status in (("active", ACTIVE[type][0]), ("ended", ENDED[type])):
            patient = f"care-{type.lower()}-{state}"
            repo.update({"resourceType": "Patient", "id": patient, "name": [{"family": "Omsorg", "given": [state]}]})
            ref = {"reference": f"Patient/{patient}"}
            body: dict[str, Any] = {"resourceType": type, "status": status}
            if type == "Appointment":
                body["participant"] = [{"actor": ref, "status": "accepted"},
                                       {"actor": {"reference": role}, "status": "accepted"}]
            elif type == "EpisodeOfCare":
                body |= {"patient": ref, "managingOrganization": {"reference": office}}
            elif type == "Encounter":
                body |= {"subject": ref, "serviceProvider": {"reference": office},
                         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
            else:
                body |= {"subject": ref, "intent": "order", "performer": [{"reference": office}]}
            repo.create(body)
            want[state].add(patient)
    return want


def _check(repo: Any) -> None:
    want = _relationships(repo)
    for key in ("gp", "hospital_doctor", "nurse"):
        who = personnel(repo, C[key].hpr, C[key].orgnr)
        fast, plain = care_patients(repo, who), _plain(repo, who)
        assert fast == plain, key
        if key == "gp":
            assert want["active"] <= fast  # every kind of active relationship counts
            assert not want["ended"] & fast  # and none that has ended
            assert len(fast) > len(want["active"])  # the seeded GP list is there too


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def test_same_care_set(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'care.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    repo = open_repository(url)
    repo.upgrade()
    seed(repo, 20, 1, reference_date=TODAY, validate_every=0)
    try:
        _check(repo)
    finally:
        repo.close()
