"""The `audit_log` table: append rows, select them (storage migration 0008).

Rows are written on the caller's transaction (trail.py decides which) through the SQL
repository's connection hooks, so an audit row commits with the write it records. A
MemoryRepository keeps its rows in a list (tests and the embedded demo without a file).

`LogQuery` is what the readers need (the API's AuditEvent search, the citizen's access log,
the report, verify): filters compiled to SQL over the table's indexes, or applied in Python
to the memory list. The log is append-only: nothing here updates or deletes a row.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ehelse.audit import journal
from ehelse.audit.record import COLUMNS, insert_rows

_INSERT = f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
# Rows per SQLite INSERT: 21 columns x 64 rows = 1,344 bound values, far under SQLite's
# limit of 32,766 (https://www.sqlite.org/limits.html#max_variable_number).
_ROWS_PER_STATEMENT = 64


_COPY = f"COPY audit_log ({', '.join(COLUMNS)}) FROM STDIN"
_OPS = {"eq": "=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<", "sa": ">", "eb": "<"}
_MEMORY_LOCK = threading.Lock()


@dataclass
class LogQuery:
    """Rows wanted; every filter given must hold (values within one filter: any of them)."""

    ids: list[tuple[str, int]] | None = None  # (chain, seq)
    patients: list[str] | None = None
    entities: list[str] | None = None  # "Type/id": the patient or a resource touched
    actors: list[str] | None = None  # FNR, HPR, admin or client name, or token id
    interactions: list[str] | None = None
    outcomes: list[str] | None = None
    recorded: list[tuple[str, str]] = field(default_factory=list)  # (op, instant prefix)
    chain: str | None = None
    newest_first: bool = True
    count: int | None = None
    offset: int = 0


def _is_sql(repo: Any) -> bool:
    return hasattr(repo, "_writing") and hasattr(repo, "_exec")


def _memory(repo: Any) -> list[dict[str, Any]]:
    with _MEMORY_LOCK:
        if not hasattr(repo, "_audit_log_rows"):
            repo._audit_log_rows = []
        return repo._audit_log_rows


def insert(repo: Any, rows: list[dict[str, Any]]) -> None:
    """Append rows on the current transaction (the caller opened it)."""
    if not _is_sql(repo):
        _memory(repo).extend(dict(r) for r in rows)
        return
    with repo._writing() as conn:
        if getattr(repo, "backend", "") != "sqlite":
            repo._executemany(conn, _INSERT, [tuple(r.get(c, "") for c in COLUMNS) for r in rows])
            return
        # On SQLite, up to _ROWS_PER_STATEMENT rows in one INSERT ... VALUES (...), (...):
        # executemany steps (and lets go of the GIL) once per row, and each time it wants the
        # GIL back it waits for the event loop's thread (trail.py: this runs beside the
        # loop's reads); one statement steps once (https://www.sqlite.org/lang_insert.html).
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            repo._exec(conn, insert_rows(len(chunk)), [r.get(c, "") for r in chunk for c in COLUMNS])


@contextmanager
def appending(repo: Any) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """A transaction of the audit trail's own (its group commit, trail.py): yields the
    function that appends rows in it; they commit when the block ends.

    On PostgreSQL the rows go in with COPY
    (https://www.postgresql.org/docs/current/sql-copy.html) on a pooled connection of their
    own, outside the repository's pipeline mode (COPY is not allowed in a pipeline): one
    statement for the batch instead of one Bind/Execute per row. 32-row batches cost 7-8 us
    a row in the client and 15 in PostgreSQL against 20-27 and 20-27 with executemany
    (docs/benchmarks.md, fourth session). psycopg escapes each value for COPY's text format."""
    pool = getattr(repo, "_pool", None) if getattr(repo, "backend", "") == "postgres" else None
    if pool is None:
        with repo.transaction():
            yield lambda rows: insert(repo, rows)
        return
    import psycopg  # only here: the PostgreSQL backend is installed when it is in use

    # No DataError becomes a 400 here: the trail stores only storable values (a NUL becomes
    # U+FFFD, record.sealed_digest), so one is the server's trouble; and a FhirError from
    # the trail's commit would read to its callers as an answer about one part of a request
    # (the bulk export reports a type and goes on) while that commit's rows are gone.
    with _live_transaction(pool, psycopg) as conn:
        def copy_rows(rows: list[dict[str, Any]]) -> None:
            with conn.cursor() as cursor, cursor.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(tuple(row.get(c, "") for c in COLUMNS))

        yield copy_rows


@contextmanager
def _live_transaction(pool: Any, psycopg: Any) -> Iterator[Any]:
    """A transaction on a pooled connection that answers. After a database restart the pool
    still holds the connections the server ended, and hands them out one by one (it drops
    each only when it comes back broken): a commit on one failed every read of its batch.
    A BEGIN that fails has sent nothing of the batch, so the next connection is taken, up
    to one more than the pool can hold. A database that is down fails in pool.connection()
    (the pool's timeout), which is not retried: that wait would only multiply."""
    for attempt in range(max(1, getattr(pool, "max_size", 1)) + 1):
        stack = ExitStack()
        conn = stack.enter_context(pool.connection())
        try:
            stack.enter_context(conn.transaction())  # BEGIN: the connection's first round trip
        except psycopg.OperationalError:
            stack.close()  # a broken connection goes back and the pool drops it
            if conn.closed and attempt < getattr(pool, "max_size", 1):
                continue
            raise
        with stack:
            yield conn
        return


def _sql(query: LogQuery) -> tuple[str, list[Any]]:
    where, args = [], []

    def any_of(column: str, values: list[Any]) -> None:
        where.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "1 = 0")
        args.extend(values)

    if query.ids is not None:
        where.append("(" + " OR ".join("(chain = ? AND seq = ?)" for _ in query.ids) + ")" if query.ids else "1 = 0")
        args.extend(v for pair in query.ids for v in pair)
    if query.patients is not None:
        any_of("patient", query.patients)
    if query.entities is not None:
        parts = []
        for ref in query.entities:
            if ref.startswith("Patient/"):
                parts.append("patient = ?")
                args.append(ref[len("Patient/"):])
            else:  # refs is space-separated: match a whole reference
                parts.append("(' ' || refs || ' ') LIKE ?")
                args.append(f"% {ref} %")
        where.append("(" + " OR ".join(parts) + ")" if parts else "1 = 0")
    if query.actors is not None:
        where.append("(" + " OR ".join("actor_id = ? OR token_id = ?" for _ in query.actors) + ")"
                     if query.actors else "1 = 0")
        args.extend(v for a in query.actors for v in (a, a))
    if query.interactions is not None:
        any_of("interaction", query.interactions)
    if query.outcomes is not None:
        any_of("outcome", query.outcomes)
    for op, value in query.recorded:
        where.append(f"recorded {_OPS[op]} ?")
        args.append(value)
    if query.chain is not None:
        where.append("chain = ?")
        args.append(query.chain)
    return " AND ".join(where) or "1 = 1", args


def _matches(row: dict[str, Any], query: LogQuery) -> bool:
    if query.ids is not None and (row["chain"], row["seq"]) not in query.ids:
        return False
    if query.patients is not None and row["patient"] not in query.patients:
        return False
    if query.entities is not None and not any(
            row["patient"] == r[len("Patient/"):] if r.startswith("Patient/") else r in row["refs"].split()
            for r in query.entities):
        return False
    if query.actors is not None and row["actor_id"] not in query.actors and row["token_id"] not in query.actors:
        return False
    if query.interactions is not None and row["interaction"] not in query.interactions:
        return False
    if query.outcomes is not None and row["outcome"] not in query.outcomes:
        return False
    compare = {"=": str.__eq__, ">=": str.__ge__, "<=": str.__le__, ">": str.__gt__, "<": str.__lt__}
    if any(not compare[_OPS[op]](row["recorded"], value) for op, value in query.recorded):
        return False
    return query.chain is None or row["chain"] == query.chain


def catch_up(repo: Any) -> None:
    """Before the log answers: every record in a journal (SQLite, audit/journal.py), of any
    process on this machine, goes into the table first, so the answer includes every
    access recorded before the question."""
    directory = journal.directory_of(repo)
    if directory is not None:
        journal.ingest(repo, directory)


def select(repo: Any, query: LogQuery) -> list[dict[str, Any]]:
    """The rows, newest (or oldest) first, paged by count/offset."""
    if not _is_sql(repo):
        rows = sorted((r for r in list(_memory(repo)) if _matches(r, query)),
                      key=lambda r: (r["recorded"], r["chain"], r["seq"]), reverse=query.newest_first)
        end = None if query.count is None else query.offset + query.count
        return rows[query.offset:end]
    catch_up(repo)
    where, args = _sql(query)
    order = "DESC" if query.newest_first else "ASC"
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE {where} ORDER BY recorded {order}, chain, seq {order}"
    if query.count is not None:
        sql += " LIMIT ? OFFSET ?"
        args = [*args, query.count, query.offset]
    with repo._reading() as conn:
        return [dict(zip(COLUMNS, r)) for r in repo._exec(conn, sql, args).fetchall()]


def count(repo: Any, query: LogQuery) -> int:
    if not _is_sql(repo):
        return sum(1 for r in list(_memory(repo)) if _matches(r, query))
    catch_up(repo)
    where, args = _sql(query)
    with repo._reading() as conn:
        return repo._exec(conn, f"SELECT count(*) FROM audit_log WHERE {where}", args).fetchone()[0]


def chains(repo: Any) -> list[str]:
    if not _is_sql(repo):
        return sorted({r["chain"] for r in list(_memory(repo))})
    catch_up(repo)
    with repo._reading() as conn:
        return [r[0] for r in repo._exec(conn, "SELECT DISTINCT chain FROM audit_log ORDER BY chain").fetchall()]


def chain_head(repo: Any, chain: str) -> tuple[int, str] | None:
    """(seq, hash) of the chain's last committed row, None if it has none (trail.py: after
    a commit whose outcome is unknown)."""
    if not _is_sql(repo):
        rows = [r for r in list(_memory(repo)) if r["chain"] == chain]
        last = max(rows, key=lambda r: r["seq"], default=None)
        return None if last is None else (last["seq"], last["hash"])
    with repo._reading() as conn:
        row = repo._exec(conn, "SELECT seq, hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1",
                         (chain,)).fetchone()
    return None if row is None else (row[0], row[1])


def chain_rows(repo: Any, chain: str, *, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """One chain's rows in sequence order, in keyset pages (a long chain is not held whole)."""
    if not _is_sql(repo):
        yield from sorted((r for r in list(_memory(repo)) if r["chain"] == chain), key=lambda r: r["seq"])
        return
    catch_up(repo)
    after = -1
    while True:
        with repo._reading() as conn:
            rows = repo._exec(conn, f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE chain = ? AND seq > ? "
                                    f"ORDER BY seq LIMIT ?", (chain, after, batch)).fetchall()
        for r in rows:
            yield dict(zip(COLUMNS, r))
        if len(rows) < batch:
            return
        after = rows[-1][1]
