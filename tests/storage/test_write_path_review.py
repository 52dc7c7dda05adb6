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
