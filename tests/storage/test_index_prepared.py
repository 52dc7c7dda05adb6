"""Index rows made before the write transaction (SqlRepository.index_rows, handed to
create/update as `index=`; access/repository.py does so to keep the indexing out of SQLite's
write lock): they are the rows the write would make itself. That rests on the rows
depending on the content alone, not on the id and meta that the write stamps."""

from __future__ import annotations

import copy

import pytest

from ehelse.search.extract import index_rows
from ehelse.storage.stamp import stamp

from test_index_rewrite import OBSERVATION, stored_rows  # noqa: E402  (pytest puts this folder on sys.path)

RESOURCES = [
    OBSERVATION,
    # meta of the client's (tags, profile, security), narrative, id last: stamping moves meta
    # and id to the front and adds versionId and lastUpdated
    {"resourceType": "Patient", "active": True, "name": [{"family": "Nordmann", "given": ["Kari"]}],
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Kari Nordmann</div>"},
     "meta": {"tag": [{"system": "http://example.org/tags", "code": "demo"}],
              "profile": ["http://hl7.no/fhir/StructureDefinition/no-basis-Patient"],
              "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
              "versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z"},
     "birthDate": "1974-12-25", "id": "old-id"},
    {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
     "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-01-15T09:00:00+01:00"}},
]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r["resourceType"])
def test_stamping_does_not_change_the_index_rows(resource):
    before = index_rows(copy.deepcopy(resource))
    stamped = copy.deepcopy(resource)
    stamp(stamped, "new-id", 3, "2026-11-28T03:00:00.000000Z")
    assert before and index_rows(stamped) == before


def test_rows_made_beforehand_are_the_rows_the_write_makes(repo):
    if not hasattr(repo, "_writer"):
        pytest.skip("reads the SQLite tables")
    made = copy.deepcopy(OBSERVATION)
    repo.create(copy.deepcopy(OBSERVATION), id="itself")
    repo.create(made, id="beforehand", index=repo.index_rows(copy.deepcopy(OBSERVATION)))
    assert set(stored_rows(repo, "beforehand")) == set(stored_rows(repo, "itself"))
    changed = {**copy.deepcopy(OBSERVATION), "status": "amended", "id": "beforehand"}
    repo.update(copy.deepcopy({**changed, "id": "itself"}))
    repo.update(changed, index=repo.index_rows(copy.deepcopy(changed)))
    assert set(stored_rows(repo, "beforehand")) == set(stored_rows(repo, "itself"))
