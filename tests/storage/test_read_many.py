"""SqliteRepository.read_many: the rows of a batch of reads by id (web/reads.py) and the
access facts' marker, in one statement: each pair found by its primary key, missing ones
left out, a deleted resource's last row given as it is (the general path answers 410), and
the marker read whether or not any row matched."""

from __future__ import annotations

import pytest

from ehelse.access import freshness
from ehelse.storage.sqlite import SqliteRepository
from ehelse.storage.sqlite.repository import _read_many_sql


@pytest.fixture
def repo(sqlite_url):
    repo = SqliteRepository(sqlite_url)
    yield repo
    repo.close()


def test_rows_asked_for_come_with_the_marker(repo):
    repo.update({"resourceType": "Patient", "id": "a"})
    repo.update({"resourceType": "Observation", "id": "b", "status": "final", "code": {"text": "x"}})
    repo.update({"resourceType": "Observation", "id": "a", "status": "final", "code": {"text": "y"}})
    repo.update({"resourceType": "Patient", "id": "a", "gender": "other"})  # version 2 is current
    with repo.transaction():
        freshness.bump(repo)
        freshness.bump(repo)  # once per transaction (write_last)
    found, marker = repo.read_many([("Patient", "a"), ("Observation", "b"), ("Patient", "missing"),
                                    ("Patient", "a")])  # asked twice: one row
    assert set(found) == {("Patient", "a"), ("Observation", "b")}  # not Observation/a
    assert found[("Patient", "a")] == repo.read("Patient", "a") and found[("Patient", "a")].version_id == 2
    assert found[("Observation", "b")] == repo.read("Observation", "b")
    assert marker == freshness.current(repo) == 1


def test_a_deleted_resource_comes_as_its_deletion(repo):
    repo.update({"resourceType": "Patient", "id": "gone"})
    repo.delete("Patient", "gone")
    found, _ = repo.read_many([("Patient", "gone")])
    assert found[("Patient", "gone")].deleted and found[("Patient", "gone")] == repo.read("Patient", "gone")


def test_the_marker_comes_when_nothing_matched_and_is_zero_without_its_row(repo):
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "UPDATE facts_version SET version = 41 WHERE id = 1")
    assert repo.read_many([("Patient", "nobody")]) == ({}, 41)
    repo.update({"resourceType": "Patient", "id": "c"})
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "DELETE FROM facts_version")
    found, marker = repo.read_many([("Patient", "c"), ("Patient", "nobody")])
    assert set(found) == {("Patient", "c")} and marker == 0


def test_many_pairs_in_one_statement_each_found_by_its_key(repo):
    ids = [f"p{i}" for i in range(300)]
    for id in ids[::3]:
        repo.update({"resourceType": "Patient", "id": id})
    found, _ = repo.read_many([("Patient", id) for id in ids])
    assert set(found) == {("Patient", id) for id in ids[::3]}
    with repo._reading() as conn:  # a primary-key search per pair, not a scan of the key's index
        plan = " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + _read_many_sql(2),
                                                       ["Patient", "a", "Patient", "b"]))
    assert "SEARCH r USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)" in plan, plan
    assert "SCAN r" not in plan, plan


@pytest.mark.anyio
async def test_on_the_loop_it_takes_an_idle_reader_and_gives_it_back(repo):
    repo.update({"resourceType": "Patient", "id": "loop"})
    repo.read("Patient", "loop")  # a reader exists and is idle
    idle = len(repo._idle_readers)
    found, _ = repo.read_many([("Patient", "loop")])
    assert set(found) == {("Patient", "loop")} and len(repo._idle_readers) == idle
