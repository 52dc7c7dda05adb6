"""Defects found reviewing this session's write path (issue 2): each test failed before its fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from ehelse.storage.sqlite import SqliteRepository

# A process that wrote once (so it holds `<file>-writers` open), forked a child that does not
# touch the repository (a worker pool, a preloading server's workers), and then died by
# SIGKILL inside a write transaction.
_DIES_WRITING = textwrap.dedent("""
    import os, sys, time
    from ehelse.storage.sqlite import SqliteRepository
    repo = SqliteRepository(sys.argv[1])
    repo.create({"resourceType": "Patient"}, id="before-fork")
    child = os.fork()
    if child == 0:
        time.sleep(120)
        os._exit(0)
    with repo.transaction():
        repo.create({"resourceType": "Patient"}, id="never-committed")
        print(child, flush=True)
        time.sleep(120)
""")


def test_a_writer_killed_mid_transaction_does_not_leave_its_forked_child_holding_the_writers_lock(tmp_path):
    # flock(2) belongs to the open file description, which a fork shares: a child that kept
    # the parent's descriptor open kept the parent's lock after the parent died, and every
    # writer of the file then waited in flock for good (SQLite's own fcntl locks die with
    # the process that holds them).
    url = f"sqlite:///{tmp_path / 'fork.sqlite'}"
    SqliteRepository(url).close()
    parent = subprocess.Popen([sys.executable, "-c", _DIES_WRITING, url], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    repo = SqliteRepository(url)
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        done = threading.Event()
        writer = threading.Thread(target=lambda: (repo.create({"resourceType": "Patient"}, id="after"), done.set()),
                                  daemon=True)
        writer.start()
        writer.join(30)  # a deadlock detector, not a speed check: the write takes milliseconds
        hung = not done.is_set()
    finally:
        os.kill(child, signal.SIGKILL)  # lets a hung writer go, so the test ends either way
        try:
            os.waitpid(child, 0)
        except ChildProcessError:  # not ours: the killed parent's child, reaped by init
            pass
        writer.join(60)
        parent.stdout.close()
    try:
        assert not hung, "the write waited on a lock held by a dead writer's forked child"
        assert repo.read("Patient", "after") is not None
        assert repo.read("Patient", "before-fork") is not None
        assert repo.read("Patient", "never-committed") is None
    finally:
        repo.close()


def test_writes_go_on_when_the_writers_file_cannot_be_opened(tmp_path):
    # A database directory this process may not create files in (read-only mount, another
    # owner; the tests run as root, so a path the open cannot take stands in for it): the
    # writes queue on BEGIN IMMEDIATE alone instead of failing, a 500, on every write.
    url = f"sqlite:///{tmp_path / 'ro.sqlite'}"
    (tmp_path / "ro.sqlite-writers").mkdir()  # open(O_RDWR) fails: EISDIR
    repo = SqliteRepository(url)
    try:
        repo.create({"resourceType": "Patient"}, id="a")
        version, created = repo.update({"resourceType": "Patient", "id": "a", "active": True})
        assert version.version_id == 2 and not created
        assert repo.read("Patient", "a").version_id == 2
    finally:
        repo.close()


# -- every path through the write, checked against a fresh write of the final content ------
_VARIANTS = [
    {"resourceType": "Observation", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}, {"system": "http://loinc.org", "code": "8302-2"}]},
     "valueQuantity": {"value": 172.5, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">høyde målt</div>"}},
    {"resourceType": "Observation", "status": "amended",
     "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}, {"system": "http://loinc.org", "code": "8302-2"}]},
     "valueQuantity": {"value": 172.50, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">målt høyde</div>"}},
    {"resourceType": "Observation", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}, {"system": "http://loinc.org", "code": "29463-7"}]},
     "valueQuantity": {"value": 1.725, "unit": "m", "system": "http://unitsofmeasure.org", "code": "m"},
     "effectiveDateTime": "2026-01-15T09:10:00+01:00"},
    {"resourceType": "Observation", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
     "valueQuantity": {"value": 172.5, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
     "effectiveDateTime": "2026-01-15T09:10:00+01:00"},
]


class _Rollback(Exception):
    pass


def _index_rows(repo, type: str, id: str) -> list:
    """The index rows stored for one resource, as comparable text, sorted."""
    from ehelse.storage.index import INDEX_TABLES

    rows = []
    with repo._reading() as conn:
        for table, columns in INDEX_TABLES.items():
            for row in repo._exec(conn, f"SELECT param, {', '.join(columns)} FROM {table} WHERE type = ? AND id = ?",
                                  (type, id)).fetchall():
                rows.append((table, *map(repr, row)))
    return sorted(rows)


@pytest.mark.parametrize("seed", range(6))
def test_index_rows_after_any_sequence_of_writes_equal_a_fresh_write(repo, seed, tmp_path):
    # Updates, deletes, re-creates after a delete, several writes of one resource in one
    # transaction, reads between them (the read cache) and rolled back transactions: the
    # stored index rows are afterwards exactly those a first write of the current content
    # makes, and versions count every committed write and none of a rolled back one.
    import copy
    import random

    from ehelse.storage import open_repository

    if repo.__class__.__name__ == "MemoryRepository":
        pytest.skip("no index tables")
    rng = random.Random(seed)
    ids = ["a", "b", "c"]
    expected: dict[str, tuple[int, int | None]] = {}  # id -> (version, variant or None when deleted)
    for _ in range(30):
        rollback = rng.random() < 0.3
        trial = dict(expected)
        try:
            with repo.transaction():
                for _ in range(rng.randint(1, 4)):
                    id = rng.choice(ids)
                    if rng.random() < 0.5:
                        repo.read("Observation", id)
                    version, variant = trial.get(id, (0, None))
                    if rng.random() < 0.25:
                        deleted = repo.delete("Observation", id)
                        if variant is not None:
                            assert deleted.version_id == version + 1
                            trial[id] = (version + 1, None)
                        else:
                            assert deleted is None
                    else:
                        choice = rng.randrange(len(_VARIANTS))
                        resource = dict(copy.deepcopy(_VARIANTS[choice]), id=id)
                        written, _ = repo.update(resource, if_match=version if variant is not None and rng.random() < 0.5 else None)
                        assert written.version_id == version + 1
                        trial[id] = (version + 1, choice)
                    current = repo.read("Observation", id)
                    if id not in trial:  # deleted before it ever existed: nothing stored
                        assert current is None
                    else:
                        assert current.version_id == trial[id][0] and current.deleted == (trial[id][1] is None)
                if rollback:
                    raise _Rollback
        except _Rollback:
            pass
        else:
            expected = trial
    if repo.backend == "sqlite":
        fresh = open_repository(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    else:
        fresh = None  # the same database: a second id per resource, written once
    try:
        for id, (version, variant) in expected.items():
            current = repo.read("Observation", id)
            assert current.version_id == version and current.deleted == (variant is None)
            assert len(repo.history("Observation", id, count=100).entries) == version
            target = fresh or repo
            if variant is not None:
                target.create(dict(copy.deepcopy(_VARIANTS[variant]), id=f"fresh-{id}"), id=f"fresh-{id}")
                assert _index_rows(repo, "Observation", id) == [
                    row for row in _index_rows(target, "Observation", f"fresh-{id}")]
            else:
                assert _index_rows(repo, "Observation", id) == []
        # the full-text tables (SQLite: contentless FTS5 kept by triggers on text_index)
        from ehelse.storage.protocol import SearchParam, SearchQuery

        query = SearchQuery(params=[SearchParam("_text", None, ("høyde",))], total="accurate", count=100)
        narrated = {id for id, (_, variant) in expected.items() if variant is not None and "text" in _VARIANTS[variant]}
        assert {v.id for v in repo.search("Observation", query).entries} - {f"fresh-{id}" for id in ids} == narrated
    finally:
        if fresh is not None:
            fresh.close()


# -- PostgreSQL: the one-statement update/delete under concurrency -------------------------
@pytest.mark.postgres
@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_postgres_a_clash_of_history_rows_is_not_passed_off_as_a_conflict(repo):
    # Only a generated id that exists already is the client's 409 (891bc01). A history row
    # (type, id, version) that exists already means two writers took one version: a lost
    # update, a server defect, which must not read to the client as "retry".
    import psycopg

    from ehelse.errors import Conflict

    repo.create({"resourceType": "Patient"}, id="h")
    with repo._pool.connection() as conn:  # a stray history row where version 2 will go
        conn.execute("INSERT INTO resource_version (type, id, version_id, last_updated, method, content)"
                     " VALUES ('Patient', 'h', 2, '2026-01-01T00:00:00.000000Z', 'PUT', NULL)")
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        repo.update({"resourceType": "Patient", "id": "h", "active": True})
    assert not isinstance(raised.value, Conflict)
    assert repo.read("Patient", "h").version_id == 1  # nothing of it committed


@pytest.mark.postgres
@pytest.mark.parametrize("repo", ["postgres", "sqlite"], indirect=True)
@pytest.mark.parametrize("with_if_match", [True, False])
def test_concurrent_updates_of_one_resource_lose_none(repo, with_if_match):
    # http.html#concurrency: with If-Match exactly one of the writers of version 1 wins and
    # the others get 412; without, every update is a version of its own. Each writer reads
    # the resource in its transaction first (the read cache) as the access layer does.
    from ehelse.errors import PreconditionFailed

    repo.create({"resourceType": "Patient", "active": False}, id="c")
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: list = []

    def write(n: int) -> None:
        barrier.wait(30)
        try:
            with repo.transaction():
                assert repo.read("Patient", "c") is not None
                version, _ = repo.update({"resourceType": "Patient", "id": "c", "gender": ["male", "female", "other", "unknown", "male", "female"][n],
                                          "name": [{"family": f"writer{n}"}]},
                                         if_match=1 if with_if_match else None)
            outcomes.append(version.version_id)
        except PreconditionFailed:
            outcomes.append("412")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if with_if_match:
        assert sorted(outcomes, key=str) == [2] + ["412"] * (writers - 1)
    else:
        assert sorted(outcomes) == list(range(2, writers + 2))
    last = max(v for v in outcomes if v != "412")
    current = repo.read("Patient", "c")
    assert current.version_id == last
    assert [v.version_id for v in repo.history("Patient", "c", count=100).entries] == list(range(last, 0, -1))
    # search follows the current version only
    from ehelse.storage.protocol import SearchParam, SearchQuery

    family = orjson_family(current.content)
    for n in range(writers):
        query = SearchQuery(params=[SearchParam("family", None, (f"writer{n}",))], total="accurate")
        hits = {v.id for v in repo.search("Patient", query).entries}
        assert hits == ({"c"} if f"writer{n}" == family else set())


def orjson_family(content: bytes) -> str:
    import orjson

    return orjson.loads(content)["name"][0]["family"]


@pytest.mark.postgres
@pytest.mark.parametrize("repo", ["postgres", "sqlite"], indirect=True)
def test_delete_racing_updates_keeps_every_version(repo):
    # Deletes and updates of one resource at once: each takes the next version, an update
    # after the delete re-creates it (http.html#update), and the index rows are those of the
    # final state.
    repo.create({"resourceType": "Patient", "name": [{"family": "start"}]}, id="d")
    barrier = threading.Barrier(6)
    outcomes: list = []

    def write(n: int) -> None:
        barrier.wait(30)
        if n % 2:
            deleted = repo.delete("Patient", "d")
            outcomes.append(("delete", deleted.version_id if deleted else None))
        else:
            version, created = repo.update({"resourceType": "Patient", "id": "d", "name": [{"family": f"w{n}"}]})
            outcomes.append(("update", version.version_id))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    versions = sorted(v for _, v in outcomes if v is not None)
    assert versions == list(range(2, 2 + len(versions)))  # no version taken twice, none skipped
    history = repo.history("Patient", "d", count=100).entries
    assert [v.version_id for v in history] == list(range(1 + len(versions), 0, -1))
    current = repo.read("Patient", "d")
    from ehelse.storage.protocol import SearchParam, SearchQuery

    query = SearchQuery(params=[SearchParam("_id", None, ("d",))], total="accurate")
    hits = {v.id for v in repo.search("Patient", query).entries}
    assert hits == (set() if current.deleted else {"d"})


@pytest.mark.parametrize("fail_at", ["raise", "if-match"])
def test_a_failed_transaction_leaks_neither_read_cache_nor_buffered_index_rows(repo, fail_at):
    # A transaction Bundle that fails after its writes: none of them is stored, and what the
    # attempt remembered (reads, index rows not yet written) is gone for the retry.
    import copy

    from ehelse.errors import PreconditionFailed
    from ehelse.storage.protocol import SearchParam, SearchQuery

    base = {"resourceType": "Patient", "name": [{"family": "Nordmann"}]}
    repo.create(copy.deepcopy(base), id="x")
    with pytest.raises((_Rollback, PreconditionFailed)):
        with repo.transaction():
            repo.update({**copy.deepcopy(base), "id": "x", "name": [{"family": "Hansen"}]})
            assert repo.read("Patient", "x").version_id == 2  # remembered inside the attempt
            repo.create({"resourceType": "Patient", "name": [{"family": "Hansen"}]}, id="y")
            repo.create({"resourceType": "Patient", "name": [{"family": "Hansen"}]}, id="z")  # rows buffered
            if fail_at == "if-match":  # a later entry's stale If-Match: 412, all of it undone
                repo.update({**copy.deepcopy(base), "id": "x"}, if_match=1)
            raise _Rollback
    with repo.transaction():
        assert repo.read("Patient", "x").version_id == 1
        assert repo.read("Patient", "y") is None and repo.read("Patient", "z") is None
        version, _ = repo.update({**copy.deepcopy(base), "id": "x", "gender": "female"}, if_match=1)
        assert version.version_id == 2
    for family, ids in (("Hansen", set()), ("Nordmann", {"x"})):
        query = SearchQuery(params=[SearchParam("family", None, (family,))], total="accurate")
        assert {v.id for v in repo.search("Patient", query).entries} == ids
