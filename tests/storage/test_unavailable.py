"""storage/unavailable.py: which driver errors mean "the database cannot take it now" (a
503 with Retry-After) and which are bugs (a 500)."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from ehelse.storage.unavailable import RETRY_AFTER, reason, unavailable


def _sqlite_error(sql_setup: list[str], statement: str, path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        for sql in sql_setup:
            holder.execute(sql)
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute(statement)
        return caught.value
    finally:
        holder.close()
        other.close()


def test_a_write_lock_held_by_another_connection_is_busy(tmp_path):
    path = tmp_path / "busy.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    error = _sqlite_error(["BEGIN IMMEDIATE"], "BEGIN IMMEDIATE", path)
    assert reason(error) == "busy"
    refusal = unavailable(error)
    assert refusal is not None and refusal.status == 503 and refusal.headers["Retry-After"] == RETRY_AFTER
    assert refusal.outcome()["issue"][0]["code"] == "transient"


def test_sqlite_errors_that_are_bugs_stay_bugs(tmp_path):
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("SELECT * FROM no_such_table")
    assert reason(caught.value) is None and unavailable(caught.value) is None
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute("CREATE TABLE u (x UNIQUE)")
        conn.execute("INSERT INTO u VALUES (1), (1)")
    assert unavailable(caught.value) is None
    assert unavailable(ValueError("database is locked")) is None  # not a driver's error


def test_a_locked_message_without_an_error_code_is_still_busy():
    assert reason(sqlite3.OperationalError("database is locked")) == "busy"
    assert reason(sqlite3.OperationalError("database or disk is full")) == "full"


@pytest.mark.parametrize("error, expected", [
    (psycopg.OperationalError("connection refused"), "down"),
    (PoolTimeout("couldn't get a connection after 30 sec"), "down"),
    (errors.AdminShutdown("terminating connection due to administrator command"), "down"),
    (errors.SerializationFailure("could not serialize access"), "conflict"),
    (errors.DeadlockDetected("deadlock detected"), "conflict"),
    (errors.DiskFull("could not extend file"), "full"),
    (errors.UndefinedTable("relation does not exist"), None),
    (errors.UniqueViolation("duplicate key"), None),
    (psycopg.ProgrammingError("bad query"), None),
])
def test_postgres_errors(error, expected):
    assert reason(error) == expected
    assert (unavailable(error) is None) == (expected is None)


@pytest.mark.parametrize("error, expected", [
    (OSError(errno.ENOSPC, "No space left on device"), "full"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "full"),
    (OSError(errno.EIO, "Input/output error"), "io"),
    (OSError(errno.EROFS, "Read-only file system"), "io"),
    (OSError(errno.EBADF, "Bad file descriptor"), None),  # a bug of ours
    (FileNotFoundError(errno.ENOENT, "No such file"), None),
    (ConnectionResetError(errno.ECONNRESET, "reset"), None),
])
def test_the_operating_systems_refusals_to_write_the_audit_journal(error, expected):
    # audit/journal.py writes a file of the database's own: a full disk there is the
    # database's trouble (503), a bad descriptor ours (500)
    assert reason(error) == expected
    assert (unavailable(error) is not None) == (expected is not None)
