"""Issue 8 follow-up (the clinician workspace's speed): a request's reads gathered into one
AuditEvent per patient (`SecuredRepository.audit_batch`), refusals audited in a batch too, and
the per-process care set dropped by a write that makes a care relationship (a referral), so
the receiver has access on their next request, not FACTS_TTL later."""

from __future__ import annotations

import base64

import orjson
import pytest
from testsupport import process_records

from access_world import C, TODAY, actor  # noqa: E402  (pytest puts this folder on sys.path)

from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit import log
from ehelse.audit.record import render
from ehelse.errors import Forbidden
from ehelse.storage.protocol import SearchParam, SearchQuery


def audit_count(repo) -> int:
    return log.count(repo, log.LogQuery())


def newest_audit(repo, n: int) -> list[dict]:
    """The last n records of this process's chain, oldest first, as AuditEvents."""
    return [render(r) for r in process_records(repo)[-n:]]


def gp(policy: AccessPolicy, repo) -> SecuredRepository:
    return SecuredRepository(repo, actor("practitioner", C["gp"].hpr, organization=C["gp"].orgnr), policy)


def compartment(patient: str, type: str) -> tuple[str, SearchQuery]:
    return type, SearchQuery(compartment=("Patient", patient), count=50, total="none")


def test_a_batch_writes_one_audit_event_per_patient_when_it_ends(world):
    repo, _ = world
    secured = gp(AccessPolicy(TODAY), repo)
    patient = "demo-ola"  # on the GP's list
    before = audit_count(repo)
    with secured.audit_batch():
        assert secured.read("Patient", patient) is not None
        for type in ("Observation", "Condition", "Encounter"):
            secured.search(*compartment(patient, type))
        assert audit_count(repo) == before  # nothing written yet: gathered
    assert audit_count(repo) == before + 1
    event = newest_audit(repo, 1)[0]
    assert event["entity"][0]["what"]["reference"] == f"Patient/{patient}"
    assert event["subtype"][0]["code"] == "search"  # a read and searches: one executed request
    queries = [e for e in event["entity"] if "query" in e]
    assert queries, event  # what was asked is kept (base64 of the joined queries)


def test_without_a_batch_every_search_is_audited_on_its_own(world):
    repo, _ = world
    secured = gp(AccessPolicy(TODAY), repo)
    before = audit_count(repo)
    secured.search(*compartment("demo-ola", "Observation"))
    secured.search(*compartment("demo-ola", "Condition"))
    assert audit_count(repo) == before + 2


def test_a_refusal_inside_a_batch_is_audited_as_denied(world):
    repo, _ = world
    doctor = SecuredRepository(repo, actor("practitioner", C["hospital_doctor"].hpr,
                                           organization=C["hospital_doctor"].orgnr), AccessPolicy(TODAY))
    before = audit_count(repo)
    with pytest.raises(Forbidden):
        with doctor.audit_batch():
            doctor.search(*compartment("demo-knut", "Observation"))
    assert audit_count(repo) == before + 1
    assert newest_audit(repo, 1)[0]["outcome"] == "4"


def test_a_referral_opens_the_record_at_the_receiver_at_once(world):
    repo, _ = world
    policy = AccessPolicy(TODAY)  # one process: one cache of care sets
    doctor_actor = actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr)
    query = lambda: SearchQuery(params=[SearchParam("subject", None, ("Patient/demo-knut",))], total="none")  # noqa: E731
    with pytest.raises(Forbidden):
        SecuredRepository(repo, doctor_actor, policy).search("Observation", query())  # cached: no relationship
    dept = C["hospital_doctor"].organization_id
    referral = gp(policy, repo).create({
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/demo-knut"}, "performer": [{"reference": f"Organization/{dept}"}]})
    try:
        page = SecuredRepository(repo, doctor_actor, policy).search("Observation", query())
        assert page.entries, "the referral made a care relationship, seen without waiting for FACTS_TTL"
    finally:
        SecuredRepository(repo, actor("admin", "test"), policy).delete("ServiceRequest", referral.id)
    with pytest.raises(Forbidden):  # the deletion drops it again: nothing stays open
        SecuredRepository(repo, doctor_actor, policy).search("Observation", query())


def test_a_search_of_several_types_keeps_the_types_in_its_audit_record(world):
    """`Patient/<id>/*?_type=...` (search.html#compartments): what was asked includes the
    types, also when the search is refused and the record lists no resource."""
    repo, _ = world
    doctor = SecuredRepository(repo, actor("practitioner", C["hospital_doctor"].hpr,
                                           organization=C["hospital_doctor"].orgnr), AccessPolicy(TODAY))
    query = SearchQuery(compartment=("Patient", "demo-knut"), types=["Observation", "Condition"], total="none")
    with pytest.raises(Forbidden):
        doctor.search(None, query)
    event = newest_audit(repo, 1)[0]
    asked = [base64.b64decode(e["query"]).decode() for e in event["entity"] if "query" in e]
    assert asked == ["Patient/demo-knut/*?_type=Observation,Condition"], asked


def test_an_admins_search_carries_no_access_rule_and_personnel_searches_do(world, monkeypatch):
    """Nothing is filtered for an admin, on the matches or on a chain's links: the query goes
    to storage without an access rule, so search/execute.py's generic_safe may give a chained
    search its prepared plan on PostgreSQL, as without a token."""
    from ehelse.search.execute import generic_safe

    repo, _ = world
    seen: list[SearchQuery] = []
    real = type(repo).search
    monkeypatch.setattr(type(repo), "search", lambda self, t, q: seen.append(q) or real(self, t, q))
    chained = lambda: SearchQuery(params=[SearchParam("patient.identifier", None, ("urn:oid:2.16.578.1.12.4.1.4.1|1",))],
                                  count=10, total="none")  # noqa: E731
    SecuredRepository(repo, actor("admin", "admin"), AccessPolicy(TODAY)).search("Observation", chained())
    assert seen[-1].access is None
    assert generic_safe("Observation", seen[-1], "postgres")
    gp(AccessPolicy(TODAY), repo).search("Observation", chained())
    assert seen[-1].access is not None and seen[-1].access("Observation", "r") is not None
    assert not generic_safe("Observation", seen[-1], "postgres")  # the rule's values differ per actor
