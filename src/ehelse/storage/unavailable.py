"""When the database cannot take a request now: a 503, not a 500.

A write that finds SQLite's write lock held past the busy timeout (another program in a long
transaction, a backup), a PostgreSQL server that restarts or refuses connections, a pool
with no connection to give, a full disk: none of these is a bug of ours or the client's
fault, and the same request may well succeed in a moment. http.html (R4) has no status of
its own for it; HTTP's is 503 Service Unavailable with Retry-After (RFC 9110 section
15.6.4), and the OperationOutcome's issue type `transient`
(http://hl7.org/fhir/R4/valueset-issue-type.html: "the processing may succeed if retried").
Nothing is half-written: the request's transaction was rolled back (or never began).

Everything else a driver raises (a syntax error, a constraint we did not expect) stays a
500 and is logged as the bug it is.
"""

from __future__ import annotations

import errno
import sqlite3

from ehelse.errors import ServiceUnavailable

RETRY_AFTER = "10"  # seconds (the causes above pass: a lock let go, a database back up)

# SQLite's result codes for a database that is busy or cannot store now
# (https://www.sqlite.org/rescode.html): SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL,
# SQLITE_IOERR, SQLITE_CANTOPEN. sqlite3 exposes them on the exception (Python 3.11+).
_SQLITE_CODES = {5: "busy", 6: "busy", 13: "full", 10: "io", 14: "cantopen"}
_SQLITE_TEXT = (("database is locked", "busy"), ("database table is locked", "busy"),
                ("database is busy", "busy"), ("database or disk is full", "full"),
                ("disk i/o error", "io"), ("unable to open database file", "cantopen"))
# The operating system's refusals when writing a file of the database's own (SQLite's audit
# journal, audit/journal.py): a full disk or quota, a disk error, a file system gone read-only.
_OS_ERRNOS = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EIO: "io", errno.EROFS: "io"}
_MESSAGES = {
    "busy": "The database is busy with another writer; nothing was changed, try again shortly",
    "full": "The database cannot store more now (its disk is full); nothing was changed",
    "io": "The database could not be read or written now; nothing was changed, try again later",
    "cantopen": "The database cannot be opened now; nothing was changed, try again later",
    "down": "The database cannot be reached now; nothing was changed, try again later",
    "conflict": "The database refused this change because of a concurrent one; nothing was changed, try again",
}


def reason(exc: BaseException) -> str | None:
    """Why the database could not take the request now ("busy", "down", ...), or None when
    the exception is not such a case."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in _SQLITE_CODES:
            return _SQLITE_CODES[code & 0xFF]
        text = str(exc).lower()
        return next((kind for needle, kind in _SQLITE_TEXT if needle in text), None)
    if type(exc) is OSError and exc.errno in _OS_ERRNOS:  # not its subclasses (a lost connection)
        return _OS_ERRNOS[exc.errno]
    return _postgres_reason(exc)


def _postgres_reason(exc: BaseException) -> str | None:
    try:  # only when the PostgreSQL driver is installed (it always is with the backend in use)
        import psycopg
        from psycopg import errors
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover - both install with ehelse
        return None
    if isinstance(exc, PoolTimeout):
        return "down"
    # Serialization failures and deadlocks (SQLSTATE 40001, 40P01): the transaction was
    # rolled back and may simply be retried (PostgreSQL manual, 13.4 "Serialization Failure
    # Handling"). A lock not available (55P03) likewise.
    if isinstance(exc, (errors.SerializationFailure, errors.DeadlockDetected, errors.LockNotAvailable)):
        return "conflict"
    if isinstance(exc, (errors.DiskFull, errors.OutOfMemory)):
        return "full"
    if isinstance(exc, (errors.AdminShutdown, errors.CannotConnectNow, errors.CrashShutdown)):
        return "down"
    # OperationalError with no SQLSTATE of its own: the connection failed or broke.
    if type(exc) is psycopg.OperationalError:
        return "down"
    return None


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 to answer for this exception, or None when it is not the database being
    unavailable (then it is a bug: a 500)."""
    kind = reason(exc)
    if kind is None:
        return None
    return ServiceUnavailable(_MESSAGES[kind], headers={"Retry-After": RETRY_AFTER})
