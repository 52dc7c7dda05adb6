"""What only the SQLite backend does: URLs, schema on a new file, WAL, readers and writer."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ehelse.storage import migrations, open_repository
from ehelse.storage.sqlite import SqliteRepository, sqlite_path
from testsupport import errors_in_threads


def test_sqlite_urls():
    assert sqlite_path("sqlite:///var/ehelse.sqlite") == Path("var/ehelse.sqlite")
    assert sqlite_path("sqlite:////srv/ehelse.sqlite") == Path("/srv/ehelse.sqlite")
    for bad in ("sqlite://host/x", "sqlite:///", "sqlite:///:memory:", "postgresql://x"):
        with pytest.raises(ValueError):
            sqlite_path(bad)


def test_new_file_gets_the_schema_and_wal(sqlite_url):
    repo = open_repository(sqlite_url, db_pool_size=3)  # another backend's option is ignored
    try:
        assert isinstance(repo, SqliteRepository)
        assert repo.migrations_current()
        assert repo.upgrade() == 0  # idempotent
        mode = sqlite3.connect(sqlite_path(sqlite_url)).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        repo.close()


def test_create_false_leaves_a_new_file_alone(sqlite_url):
    repo = SqliteRepository(sqlite_url, create=False)
    try:
        assert repo.schema_version() == 0 and not repo.migrations_current()
        assert repo.upgrade() == migrations.latest("sqlite")
        assert repo.migrations_current() and repo.upgrade() == 0
    finally:
        repo.close()


def test_an_existing_database_is_not_migrated_on_open(sqlite_url):
    path = sqlite_path(sqlite_url)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE unrelated (x)")  # a file with tables but no ehelse schema
    conn.close()
    repo = SqliteRepository(sqlite_url)
    try:
        assert not repo.migrations_current()
    finally:
        repo.close()


def test_reads_do_not_see_or_wait_for_an_open_write_transaction(sqlite_url):
    repo = SqliteRepository(sqlite_url)
    inside, release = threading.Event(), threading.Event()

    def writer():
        with repo.transaction():
            repo.create({"resourceType": "Patient"}, id="pending")
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inside.wait(10)
        assert repo.read("Patient", "pending") is None  # WAL: the reader sees the last commit
    finally:
        release.set()
        thread.join()
    assert repo.read("Patient", "pending").version_id == 1
    repo.close()


def test_reader_connections_are_bounded(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=2)
    repo.create({"resourceType": "Patient"}, id="p")

    def reads():
        for _ in range(200):
            assert repo.read("Patient", "p") is not None

    assert errors_in_threads(reads, 6) == []
    stats = repo.pool_stats()
    assert 1 <= stats["pool_size"] <= 2 and stats["pool_max"] == 2
    repo.close()
    with pytest.raises(RuntimeError):
        repo.create({"resourceType": "Patient"})


def test_two_repositories_on_one_file_share_it(sqlite_url):
    # e.g. `ehelse import` writing while a server runs: both see every commit
    first, second = SqliteRepository(sqlite_url), SqliteRepository(sqlite_url)
    try:
        with first.transaction():
            first.create({"resourceType": "Patient"}, id="a")
        second.update({"resourceType": "Patient", "id": "a", "active": True}, if_match=1)
        assert first.read("Patient", "a").version_id == 2
    finally:
        first.close()
        second.close()


def test_sort_by_last_updated_and_id(sqlite_url):
    from ehelse.storage.protocol import SearchQuery

    repo = SqliteRepository(sqlite_url)
    for id in ("b", "a", "c"):
        repo.create({"resourceType": "Patient"}, id=id)
    newest_first = repo.search("Patient", SearchQuery(sort=[("_lastUpdated", True)]))
    assert [v.id for v in newest_first.entries] == ["c", "a", "b"]
    by_id = repo.search("Patient", SearchQuery(sort=[("_id", False)]))
    assert [v.id for v in by_id.entries] == ["a", "b", "c"]
    repo.close()


def test_the_checkpoint_thread_stops_with_its_repository(sqlite_url):
    """The background WAL checkpointer starts with the first write, stops on close, and holds
    its repository weakly: a repository nobody closed does not keep a thread and a
    connection alive for the rest of the process."""
    import gc
    import time

    def checkpointers():
        return [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]

    before = len(checkpointers())
    repo = open_repository(sqlite_url)
    repo.create({"resourceType": "Patient", "active": True})
    assert len(checkpointers()) == before + 1
    repo.close()
    assert len(checkpointers()) == before

    forgotten = open_repository(sqlite_url)
    forgotten.create({"resourceType": "Patient", "active": True})
    assert len(checkpointers()) == before + 1
    del forgotten
    gc.collect()
    deadline = time.monotonic() + 30
    while len(checkpointers()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(checkpointers()) == before


def test_writers_queue_on_a_file_lock_held_for_the_write_transaction(tmp_path):
    # storage/sqlite: processes writing one file wait in flock(2) on `<file>-writers`, woken
    # when the writer before them is done, instead of retrying SQLite's lock every 0.1-2 ms.
    import fcntl
    import os

    url = f"sqlite:///{tmp_path / 'lock.sqlite'}"
    first, second = SqliteRepository(url), SqliteRepository(url)  # each its own open file: as two processes
    probe = os.open(tmp_path / "lock.sqlite-writers", os.O_RDWR)
    try:
        order: list[str] = []
        with first.transaction():
            first.create({"resourceType": "Patient"}, id="a")
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waiting = threading.Thread(target=lambda: (second.create({"resourceType": "Patient"}, id="b"),
                                                       order.append("second")))
            waiting.start()
            waiting.join(0.2)
            assert waiting.is_alive() and order == []  # queued behind the first writer
            order.append("first")
        waiting.join(10)
        assert order == ["first", "second"]
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once nobody writes
        fcntl.flock(probe, fcntl.LOCK_UN)
        assert first.read("Patient", "b") is not None and second.read("Patient", "a") is not None
    finally:
        os.close(probe)
        first.close()
        second.close()


def test_closing_the_repository_while_another_thread_reads_waits_for_that_read(tmp_path):
    # A bulk export's sweep thread was still reading when its test closed the repository:
    # close() closed the connection under the running statement, and the process died of
    # SIGSEGV (CI, tests/bulk). Run in a child process, so a crash fails this test only.
    import subprocess
    import sys

    script = f"""
import threading
from ehelse.storage.sqlite import SqliteRepository
repo = SqliteRepository("sqlite:///{tmp_path / 'close.sqlite'}")
started, result = threading.Event(), []
def read():
    with repo._read_conn() as conn:
        started.set()
        # a statement that runs for a while: the close below lands in the middle of it
        rows = conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
                            "SELECT count(*) FROM n").fetchone()
        result.append(rows[0])
    result.append(conn)
reader = threading.Thread(target=read)
reader.start()
started.wait()
repo.close()
reader.join()
assert result[0] == 3000000, result
try:
    result[1].execute("SELECT 1")
except Exception as exc:  # closed when it came back
    assert "closed" in str(exc), exc
else:
    raise AssertionError("the reader was left open")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stdout, done.stderr[-2000:])


def test_the_event_loop_s_read_by_id_answers_as_the_general_read(sqlite_url):
    # SqliteRepository.read's own path (on a running loop: no context managers) against
    # the general one (off the loop): same versions, a deletion, an unknown id, and the
    # reader goes back to the idle ones (none leaks, none opens a transaction).
    import asyncio

    repo = open_repository(sqlite_url)
    repo.update({"resourceType": "Patient", "id": "p1", "active": True})
    repo.update({"resourceType": "Patient", "id": "gone"})
    repo.delete("Patient", "gone")
    expected = {id: repo.read("Patient", id) for id in ("p1", "gone", "unknown")}

    async def on_the_loop() -> dict:
        return {id: repo.read("Patient", id) for id in ("p1", "gone", "unknown")}

    try:
        assert asyncio.run(on_the_loop()) == expected
        assert expected["p1"].content is not None and expected["gone"].deleted and expected["unknown"] is None
        assert all(not conn.in_transaction for conn in repo._idle_readers)
        assert len(repo._idle_readers) == len(repo._all_readers)
    finally:
        repo.close()


def test_the_event_loop_s_read_inside_a_transaction_sees_its_writes(sqlite_url):
    # Inside transaction() a read must come from the transaction's connection (the general
    # path), not from an idle reader that cannot see the uncommitted row.
    import asyncio

    repo = open_repository(sqlite_url)

    async def write_then_read() -> object:
        with repo.transaction():
            repo.update({"resourceType": "Patient", "id": "inside"})
            return repo.read("Patient", "inside")

    try:
        found = asyncio.run(write_then_read())
        assert found is not None and found.id == "inside" and found.version_id == 1
    finally:
        repo.close()


def test_the_event_loop_s_read_within_a_read_budget_is_interrupted(sqlite_url):
    # Within a read budget (the loop trying a search itself, storage/budget.py) a read goes
    # the general way, whose progress handler the budget relies on.
    import asyncio

    from ehelse.storage.budget import ReadBudgetExceeded, read_budget

    repo = open_repository(sqlite_url)
    repo.update({"resourceType": "Patient", "id": "p1"})

    async def spent_budget() -> None:
        with read_budget(0.0) as budget:
            budget.exceeded = True
            repo.read("Patient", "p1")

    try:
        with pytest.raises(ReadBudgetExceeded):
            asyncio.run(spent_budget())
    finally:
        repo.close()


def test_a_writer_gives_up_on_a_file_lock_held_for_good_and_the_next_one_gets_it(tmp_path, monkeypatch):
    # storage/sqlite/writers.py: a writer of another process that never lets go of the
    # writers' lock (stopped or hung in its transaction) costs a write here the busy
    # timeout, then SQLite's "database is locked" (a 503 over HTTP), not a wait for good;
    # once it lets go, the next write takes the lock, and the wait given up meanwhile
    # leaves nothing held behind.
    import fcntl
    import os
    import time

    from ehelse.storage.sqlite import repository as sqlite_repository
    from ehelse.storage.unavailable import reason

    monkeypatch.setattr(sqlite_repository, "_BUSY_TIMEOUT_MS", 300)
    url = f"sqlite:///{tmp_path / 'held.sqlite'}"
    repo = SqliteRepository(url)
    repo.create({"resourceType": "Patient"}, id="first")  # the schema, and the lock file
    hung = os.open(tmp_path / "held.sqlite-writers", os.O_RDWR)  # as another process's open file
    try:
        fcntl.flock(hung, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError) as caught:
            repo.create({"resourceType": "Patient"}, id="refused")
        waited = time.monotonic() - started
        assert 0.25 < waited < 5 and reason(caught.value) == "busy"
        assert repo.read("Patient", "refused") is None
        fcntl.flock(hung, fcntl.LOCK_UN)
        repo.create({"resourceType": "Patient"}, id="after")  # the given-up wait holds nothing
        deadline = time.monotonic() + 5
        while True:  # the given-up wait ends on its own descriptor and lets go of it
            try:
                fcntl.flock(hung, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the writers' lock stayed held"
                time.sleep(0.01)
        fcntl.flock(hung, fcntl.LOCK_UN)
        assert repo.read("Patient", "after") is not None
    finally:
        os.close(hung)
        repo.close()
