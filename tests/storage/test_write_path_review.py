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
    finally:
        if fresh is not None:
            fresh.close()
