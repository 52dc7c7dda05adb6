"""web/reads.py `fetch` on PostgreSQL: the rows asked for and the access facts' marker in one
statement; pairs nobody asked for (type = ANY x id = ANY) and missing rows are left out; the
marker is read whether or not any row matched, and a database without a marker row still
answers its rows."""

from __future__ import annotations

import pytest

from ehelse.access import freshness
from ehelse.storage.postgres import PostgresRepository
from ehelse.web.reads import fetch

pytestmark = pytest.mark.postgres


@pytest.fixture
def repo(pg_url):
    repo = PostgresRepository(pg_url, db_pool_size=2)
    repo.upgrade()
    yield repo
    repo.close()


def _marker(repo) -> int:
    with repo._reading() as conn:
        return repo._exec(conn, "SELECT version FROM facts_version WHERE id = 1").fetchone()[0]


def test_rows_asked_for_come_with_the_marker(repo):
    repo.update({"resourceType": "Patient", "id": "a"})
    repo.update({"resourceType": "Observation", "id": "b", "status": "final", "code": {"text": "x"}})
    repo.update({"resourceType": "Observation", "id": "a", "status": "final", "code": {"text": "y"}})
    with repo.transaction():
        freshness.bump(repo)  # what a write of an access fact does (access/freshness.py)
    found, marker = fetch(repo, [("Patient", "a"), ("Observation", "b"), ("Patient", "missing")])
    assert set(found) == {("Patient", "a"), ("Observation", "b")}  # not Observation/a, not the missing one
    assert found[("Patient", "a")].version_id == 1 and b'"Patient"' in bytes(found[("Patient", "a")].content)
    assert marker == _marker(repo) and marker >= 1


def test_the_marker_comes_when_nothing_matched(repo):
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "UPDATE facts_version SET version = 41 WHERE id = 1")
    found, marker = fetch(repo, [("Patient", "nobody")])
    assert found == {} and marker == 41


def test_a_database_without_a_marker_row_still_answers_its_rows(repo):
    repo.update({"resourceType": "Patient", "id": "c"})
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "DELETE FROM facts_version")
    found, marker = fetch(repo, [("Patient", "c"), ("Patient", "nobody")])
    assert set(found) == {("Patient", "c")} and marker == 0
    assert fetch(repo, [("Patient", "nobody")]) == ({}, 0)
