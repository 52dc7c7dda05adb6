"""The audit journal on SQLite (audit/journal.py): records outside a write transaction are
appended to a file of the process's own, durable when append() returns, and moved into
audit_log exactly once, by the process in the background or by any reader of the log."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehelse.access.actor import Actor
from ehelse.audit import journal, log
from ehelse.audit.record import COLUMNS, row_for
from ehelse.audit.trail import AuditTrail, trail_for
from ehelse.audit.verify import verify
from ehelse.cli.main import app as cli

SRC = Path(__file__).resolve().parents[2] / "src"
ENV = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="t1")


@pytest.fixture
def repo(sqlite_repo):
    return sqlite_repo  # the journal is SQLite's (conftest's sqlite_repo)


def _rows(n: int, patient: str = "anna") -> list[dict]:
    return [row_for(ADMIN, interaction="read", patient_id=patient, what=[f"Observation/o{i}"], relation="admin")
            for i in range(n)]


def _table(path: Path) -> list[tuple]:
    """audit_log's (chain, seq, patient) as another connection sees them."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT chain, seq, patient FROM audit_log ORDER BY chain, seq").fetchall()


def _quiet(trail: AuditTrail) -> journal.Journal:
    """The trail's journal without its background ingester (the test ingests)."""
    trail.journal._ingester = object()
    return trail.journal


def test_rows_are_in_the_file_when_append_returns_and_land_once(repo, tmp_path):
    own = _quiet(AuditTrail(repo))
    ids = own.append(_rows(3))
    assert ids == [f"{own.chain_id}-{n}" for n in (1, 2, 3)]
    [file] = journal.pending(own.directory)
    assert file.read_bytes().count(b"\n") == 3  # in the kernel's hands: survives this process
    assert _table(repo.path) == []
    assert journal.ingest(repo, own.directory) == 3
    assert journal.ingest(repo, own.directory) == 0  # the offset moved with the rows
    own.append(_rows(2, "bjorn"))
    assert journal.ingest(repo, own.directory) == 2
    assert [row[1:] for row in _table(repo.path)] == [(1, "anna"), (2, "anna"), (3, "anna"),
                                                                  (4, "bjorn"), (5, "bjorn")]
    assert file.exists()  # its process still holds it
    assert verify(repo).ok


def test_a_reader_of_the_log_sees_every_record_at_once(repo):
    trail = AuditTrail(repo)
    _quiet(trail)
    trail.journal.append(_rows(4))
    assert log.count(repo, log.LogQuery(patients=["anna"])) == 4
    assert [r["seq"] for r in log.select(repo, log.LogQuery(chain=trail.journal.chain_id, newest_first=False))] == [1, 2, 3, 4]


@pytest.mark.parametrize("trigger", ["time", "size"])
def test_the_process_moves_its_records_in_the_background(repo, tmp_path, monkeypatch, trigger):
    monkeypatch.setattr(journal, "CHECK_SECONDS", 0.05)
    if trigger == "time":  # the oldest waited long enough
        monkeypatch.setattr(journal, "INGEST_SECONDS", 0.3)
    else:  # enough bytes wait, however young
        monkeypatch.setattr(journal, "INGEST_SECONDS", 3600.0)
        monkeypatch.setattr(journal, "INGEST_BYTES", 1000)
    trail = AuditTrail(repo)
    trail.journal.append(_rows(5))
    deadline = time.monotonic() + 20
    while len(_table(repo.path)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_table(repo.path)) == 5  # no reader asked
    assert trail.journal.commits == 1


def test_a_journal_nobody_holds_is_deleted_once_ingested(repo, tmp_path):
    own = _quiet(AuditTrail(repo))
    own.append(_rows(2))
    [file] = journal.pending(own.directory)
    own.close()  # a graceful shutdown: the rest goes in, and the file with it
    assert len(_table(repo.path)) == 2
    assert not file.exists()


def test_records_of_a_process_killed_after_a_read_are_kept(repo, tmp_path):
    script = ("import os, sys\nfrom ehelse.access.actor import Actor\nfrom ehelse.audit.record import row_for\n"
              "from ehelse.audit.trail import trail_for\nfrom ehelse.storage import open_repository\n"
              "repo = open_repository(sys.argv[1])\n"
              "trail = trail_for(repo)\n"
              "trail.journal.append([row_for(Actor('admin', 'admin', ()), interaction='read', patient_id='p%d' % i)"
              " for i in range(50)])\n"
              "os.kill(os.getpid(), 9)\n")
    done = subprocess.run([sys.executable, "-c", script, repo.url], env=ENV, capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    [file] = journal.pending(Path(f"{repo.path}-audit"))
    assert log.count(repo, log.LogQuery()) == 50
    assert not file.exists()
    assert verify(repo).ok


def test_a_torn_last_line_of_a_dead_journal_is_skipped_and_a_live_one_waits(repo, tmp_path, caplog):
    own = _quiet(AuditTrail(repo))
    own.append(_rows(2))
    [file] = journal.pending(own.directory)
    with open(file, "ab") as f:  # a write(2) in progress: half a line so far
        f.write(b'["' + own.chain_id.encode() + b'", 3, "2026')
    assert journal.ingest(repo, own.directory) == 2  # the complete lines only
    assert file.exists()
    own._abandon()  # nobody holds it any more (a process that died mid-write)
    with caplog.at_level(logging.ERROR, logger="ehelse"):
        assert journal.ingest(repo, own.directory) == 0
    assert "torn last line" in caplog.text
    assert not file.exists()
    assert len(_table(repo.path)) == 2


def test_a_line_that_is_not_a_row_is_skipped_and_the_chain_shows_the_gap(repo, tmp_path, caplog):
    own = _quiet(AuditTrail(repo))
    own.append(_rows(1))
    [file] = journal.pending(own.directory)
    with open(file, "ab") as f:
        f.write(b"garbage that is no row\n")
    own.append(_rows(1))
    own.seq += 1  # as if the garbage had been row 3: the chain goes on after it
    own.append(_rows(1))
    with caplog.at_level(logging.ERROR, logger="ehelse"):
        assert journal.ingest(repo, own.directory) == 3
    assert "not a row" in caplog.text
    result = verify(repo)
    assert not result.ok and any(b.seq == 4 for b in result.breaks)


def test_a_failed_write_refuses_the_records_and_the_next_go_to_a_new_chain(repo, monkeypatch):
    trail = AuditTrail(repo)
    own = _quiet(trail)
    own.append(_rows(1))
    first = own.chain_id

    def full(fd, data):
        os.write(fd, data[:10])  # part of it reached the disk, then it was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write_all", full)
    with pytest.raises(OSError):
        own.append(_rows(1))
    monkeypatch.undo()
    assert own.chain_id != first and own.seq == 0
    own.append(_rows(2))
    rows = log.select(repo, log.LogQuery(newest_first=False))
    assert [(r["chain"], r["seq"]) for r in rows] == [(first, 1), (own.chain_id, 1), (own.chain_id, 2)]
    assert verify(repo).ok


def test_a_journal_read_again_after_a_crash_before_its_deletion_adds_nothing(repo, tmp_path):
    own = _quiet(AuditTrail(repo))
    own.append(_rows(3))
    [file] = journal.pending(own.directory)
    copy = tmp_path / "copy"
    shutil.copy(file, copy)
    own.close()
    assert not file.exists()
    shutil.copy(copy, file)  # as if the process had died between the commit and the unlink
    assert journal.ingest(repo, own.directory) == 3  # read again ...
    assert len(_table(repo.path)) == 3  # ... and nothing doubled
    assert not file.exists()


def test_a_long_journal_goes_on_in_a_new_part_of_the_same_chain(repo, monkeypatch, tmp_path):
    monkeypatch.setattr(journal, "PART_BYTES", 2000)
    own = _quiet(AuditTrail(repo))
    own.append(_rows(10))  # well over 2,000 bytes
    [first] = journal.pending(own.directory)
    own.ingest_own()  # ingested, so the next rows go to a new part
    own.append(_rows(2))
    assert len(journal.pending(own.directory)) == 2
    assert log.count(repo, log.LogQuery(chain=own.chain_id)) == 12
    parts = journal.pending(own.directory)
    assert first not in parts and len(parts) == 1  # the old part, let go and all in, went
    assert verify(repo).ok


def test_two_processes_journal_at_once_and_every_record_is_there_once(repo, tmp_path):
    script = ("import sys\nfrom ehelse.access.actor import Actor\nfrom ehelse.access.policy import AccessPolicy\n"
              "from ehelse.access.repository import SecuredRepository\nfrom ehelse.storage import open_repository\n"
              "repo = open_repository(sys.argv[1])\nactor = Actor('admin', 'admin', ('system/*.*',))\n"
              "for i in range(300):\n"
              "    SecuredRepository(repo, actor, AccessPolicy()).read('Patient', 'p1')\n"
              "repo.close()\n")
    repo.update({"resourceType": "Patient", "id": "p1"})
    processes = [subprocess.Popen([sys.executable, "-c", script, repo.url], env=ENV, stderr=subprocess.PIPE)
                 for _ in range(2)]
    seen = 0
    while any(p.poll() is None for p in processes):  # a reader meanwhile: ingests what is there
        seen = max(seen, log.count(repo, log.LogQuery(patients=["p1"])))
    assert all(p.wait(timeout=60) == 0 for p in processes), [p.stderr.read() for p in processes]
    assert log.count(repo, log.LogQuery(patients=["p1"])) == 600
    assert len(log.chains(repo)) == 2 and verify(repo).ok
    assert journal.pending(Path(f"{repo.path}-audit")) == []


def test_a_backup_holds_the_records_still_in_journals(repo, tmp_path):
    own = _quiet(trail_for(repo))
    own.append(_rows(4))
    result = CliRunner().invoke(cli, ["backup", str(tmp_path / "b.sqlite"), "--database", repo.url])
    assert result.exit_code == 0, result.output
    assert len(_table(tmp_path / "b.sqlite")) == 4


def test_other_backends_keep_the_group_commit(any_repo):
    trail = AuditTrail(any_repo)
    assert (trail.journal is not None) == (any_repo.backend == "sqlite")
    assert trail.outside is (trail.journal or trail)
    assert AuditTrail(any_repo, use_journal=False).journal is None


def test_the_file_holds_the_columns_in_table_order(repo):
    own = _quiet(AuditTrail(repo))
    [row] = _rows(1)
    own.append([row])
    [file] = journal.pending(own.directory)
    import orjson

    assert orjson.loads(file.read_bytes()) == [row[c] for c in COLUMNS]


@pytest.mark.parametrize("awkward", ["plain", "quote \" and \\\\ backslash", "nul \x00 here", "lone \ud800 surrogate",
                                     "æøå \u2028", "\\u0000 spelled out"])
def test_a_sealed_line_is_the_row_as_stored_with_its_digest(awkward):
    import orjson

    from ehelse.audit.record import digest, sealed_digest, sealed_line

    [row] = _rows(1)
    row.update(chain="c" * 16, seq=7, previous="0" * 64, query=awkward, detail=awkward)
    twin = dict(row)
    line = sealed_line(row)
    assert row["hash"] == sealed_digest(twin) == digest(row)  # awkward values replaced alike
    assert orjson.loads(line) == [row[c] for c in COLUMNS]


@pytest.mark.parametrize("chunk", [100, 1000, 10_000])
def test_rows_are_parsed_in_chunks_whatever_their_length(repo, monkeypatch, chunk, tmp_path):
    monkeypatch.setattr(journal, "_CHUNK_BYTES", chunk)  # lines longer than a chunk too
    monkeypatch.setattr(journal, "_ROWS_PER_STATEMENT", 3)
    own = _quiet(AuditTrail(repo))
    rows = _rows(20)
    rows[5]["query"] = "x" * 3000
    own.append(rows)
    assert journal.ingest(repo, own.directory) == 20
    assert [row[1] for row in _table(repo.path)] == list(range(1, 21))
    assert verify(repo).ok


def test_a_reader_takes_no_write_lock_when_everything_is_in(repo, tmp_path):
    own = _quiet(AuditTrail(repo))
    own.append(_rows(2))
    assert log.count(repo, log.LogQuery()) == 2  # moved in by this reader
    holder = sqlite3.connect(repo.path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        assert log.count(repo, log.LogQuery()) == 2  # nothing to move: a read, answered
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_journal_being_made_is_never_taken_for_a_dead_one(repo, monkeypatch):
    # Another process's ingester may look at the folder at any moment, also between the
    # creation of a new journal and its lock: it must not see it then (it would take it for
    # a dead, empty journal and delete it, and every row written to it after would be lost;
    # seen once in CI as 300 of 600 records).
    own = _quiet(AuditTrail(repo))
    real_flock = journal.fcntl.flock
    looked = []

    def flock(fd, operation):  # fcntl is shared: the writers' file lock comes here too
        if (operation == journal.fcntl.LOCK_EX | journal.fcntl.LOCK_NB and not looked
                and ".journal" in os.readlink(f"/proc/self/fd/{fd}")):
            looked.append(None)
            looked[0] = journal.ingest(repo, own.directory)  # an ingester elsewhere, right now
        return real_flock(fd, operation)

    monkeypatch.setattr(journal.fcntl, "flock", flock)
    own.append(_rows(3))
    monkeypatch.undo()
    assert looked == [0]
    assert log.count(repo, log.LogQuery()) == 3
