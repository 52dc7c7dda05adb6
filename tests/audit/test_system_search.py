"""A search across all types includes AuditEvents (http.html#search: every resource type the
caller may search); they are rendered from the audit log, not stored as resources."""

from __future__ import annotations

import pytest

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit.events import now_instant
from ehelse.storage import SearchParam, SearchQuery, open_repository

ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="admin-token")


@pytest.fixture
def repo(tmp_path):
    repository = open_repository(f"sqlite:///{tmp_path / 'sys.sqlite'}")
    repository.upgrade()
    repository.update({"resourceType": "Patient", "id": "anna"})
    repository.update({"resourceType": "Observation", "id": "obs-anna", "status": "final",
                       "code": {"text": "x"}, "subject": {"reference": "Patient/anna"}})
    yield repository
    repository.close()


def _secured(repo, actor=ADMIN):
    return SecuredRepository(repo, actor, AccessPolicy())


def test_an_admin_s_search_across_all_types_includes_audit_events(repo):
    _secured(repo).read("Observation", "obs-anna")  # one AuditEvent in the log
    page = _secured(repo).search(None, SearchQuery())
    types = [v.type for v in page.entries]
    # the stored resources, then the read's record and this search's own (it touched anna)
    assert sorted(types[:2]) == ["Observation", "Patient"] and types[2:] == ["AuditEvent", "AuditEvent"]
    assert page.total == 4


def test_paging_runs_from_stored_resources_into_audit_events(repo):
    for _ in range(3):
        _secured(repo).read("Observation", "obs-anna")
    snapshot = now_instant()  # a page token's snapshot: records made while paging stay out
    first = _secured(repo).search(None, SearchQuery(count=2, snapshot=snapshot))
    assert sorted(v.type for v in first.entries) == ["Observation", "Patient"]
    assert first.total == 5
    second = _secured(repo).search(None, SearchQuery(count=2, offset=2, snapshot=snapshot))
    third = _secured(repo).search(None, SearchQuery(count=2, offset=4, snapshot=snapshot))
    events = [v for v in second.entries + third.entries]
    assert [v.type for v in events] == ["AuditEvent"] * 3 and len({v.id for v in events}) == 3
    assert second.total == third.total == 5


def test_type_and_tag_filters_decide_whether_audit_events_take_part(repo):
    _secured(repo).read("Observation", "obs-anna")
    only = _secured(repo).search(None, SearchQuery(types=["AuditEvent"]))
    assert only.entries and all(v.type == "AuditEvent" for v in only.entries)
    others = _secured(repo).search(None, SearchQuery(types=["Patient"]))
    assert [v.type for v in others.entries] == ["Patient"]
    tagged = _secured(repo).search(None, SearchQuery(params=[SearchParam("_tag", None, ("x|y",))]))
    assert all(v.type != "AuditEvent" for v in tagged.entries)


def test_personnel_s_search_across_all_types_has_no_audit_events(repo):
    _secured(repo).read("Observation", "obs-anna")
    doctor = Actor("practitioner", "995651119", ("user/*.rs",), organization="979513763", token_id="t1")
    page = _secured(repo, doctor).search(None, SearchQuery())
    assert all(v.type != "AuditEvent" for v in page.entries)
