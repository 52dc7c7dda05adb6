"""web/reads.py. `fetch` on PostgreSQL: the rows asked for and the access facts' marker in one
statement; pairs nobody asked for (type = ANY x id = ANY) and missing rows are left out; the
marker is read whether or not any row matched, and a database without a marker row still
answers its rows. ReadBatcher on both backends: the reads waiting when the fetch runs share
it, a read whose request was cancelled is left out without harming the others, a failed
fetch sends the fast path's reads the general way and fails the general path's fetches."""

from __future__ import annotations

import asyncio

import pytest

from ehelse.access import freshness
from ehelse.storage import open_repository
from ehelse.storage.postgres import PostgresRepository
from ehelse.web.reads import Batchers, fetch


@pytest.fixture
def repo(pg_url):
    repo = PostgresRepository(pg_url, db_pool_size=2)
    repo.upgrade()
    yield repo
    repo.close()


def _marker(repo) -> int:
    with repo._reading() as conn:
        return repo._exec(conn, "SELECT version FROM facts_version WHERE id = 1").fetchone()[0]


@pytest.mark.postgres
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


@pytest.mark.postgres
def test_the_marker_comes_when_nothing_matched(repo):
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "UPDATE facts_version SET version = 41 WHERE id = 1")
    found, marker = fetch(repo, [("Patient", "nobody")])
    assert found == {} and marker == 41


@pytest.mark.postgres
def test_a_database_without_a_marker_row_still_answers_its_rows(repo):
    repo.update({"resourceType": "Patient", "id": "c"})
    with repo.transaction():
        with repo._writing() as conn:
            repo._exec(conn, "DELETE FROM facts_version")
    found, marker = fetch(repo, [("Patient", "c"), ("Patient", "nobody")])
    assert set(found) == {("Patient", "c")} and marker == 0
    assert fetch(repo, [("Patient", "nobody")]) == ({}, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_repo(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'reads.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    repo = open_repository(url)
    repo.upgrade()
    for id in ("r1", "r2", "r3"):
        repo.update({"resourceType": "Patient", "id": id})
    yield repo
    repo.close()


def _answering(answered):
    def answer(repo, reads, found, marker):
        answered.append([read.id for read in reads])
        for read in reads:
            read.future.set_result(found.get((read.type, read.id)))
    return answer


@pytest.mark.anyio
async def test_reads_waiting_together_share_one_fetch_and_a_cancelled_one_is_left_out(any_repo):
    answered = []
    batcher = Batchers(_answering(answered)).for_repo(any_repo)
    first, gone, third = (batcher.read("actor", "Patient", id) for id in ("r1", "r2", "r3"))
    alone = batcher.fetch("Patient", "r3")
    gone.cancel()  # its client went away before the fetch
    versions = await asyncio.gather(first, third)
    fetched = await alone
    assert [v.id for v in versions] == ["r1", "r3"] and fetched.version.id == "r3"
    assert answered == [["r1", "r3"]] and batcher.batches == 1 and batcher.reads == 4
    assert (await batcher.read("actor", "Patient", "r2")).id == "r2"  # the batcher goes on
    assert batcher.batches == 2


@pytest.mark.anyio
async def test_a_failed_fetch_sends_reads_the_general_way_and_fails_fetches(any_repo, monkeypatch):
    answered = []
    batcher = Batchers(_answering(answered)).for_repo(any_repo)
    broken = RuntimeError("the database went away")

    def fail(*args, **kwargs):
        raise broken

    monkeypatch.setattr(type(any_repo), "read_many", fail, raising=False)  # SQLite's fetch
    monkeypatch.setattr("ehelse.web.reads.fetch", fail)  # PostgreSQL's
    read, alone = batcher.read("actor", "Patient", "r1"), batcher.fetch("Patient", "r1")
    assert await read is None  # the general path answers it (and logs the error)
    with pytest.raises(RuntimeError):
        await alone
    assert answered == []


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_closed_batcher_sends_its_reads_the_general_way_instead_of_leaving_them_waiting(pg_url):
    repo = PostgresRepository(pg_url, db_pool_size=2)
    repo.upgrade()
    try:
        batcher = Batchers(_answering([])).for_repo(repo)
        batcher.close()  # what for_repo does to the old batcher when the repository was reopened
        read, alone = batcher.read("actor", "Patient", "r1"), batcher.fetch("Patient", "r1")
        assert await asyncio.wait_for(read, 10) is None
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(alone, 10)
    finally:
        repo.close()
