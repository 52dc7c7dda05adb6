"""The production backend: PostgreSQL through psycopg 3 and a connection pool.

Every `serve` process on every machine opens its own pool on the same database; nothing a
process needs lives only in its memory (DESIGN.md, scale-out), so any number of them can
stand behind a load balancer.

Concurrency: a write locks the resource's current row (`SELECT ... FOR UPDATE`) before
computing the next version, so concurrent updates of one resource queue up: with If-Match
exactly one wins and the others see the new version and get 412; without it each becomes
its own version. Two creates of the same new id meet in `INSERT ... ON CONFLICT DO
NOTHING` (the loser then updates the winner's row). A deadlock between two transaction
bundles becomes 409 Conflict, which the client may retry.

Schema: never created behind the user's back; `ehelse db upgrade` (`repo.upgrade()`)
creates and migrates it, and `migrations_current()` tells the server whether that is due.
A URL's `?options=-csearch_path%3Dname` or the `schema` option picks the schema (tests
run each session in its own).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import orjson
import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolClosed

from ehelse.errors import BadRequest, Conflict
from ehelse.storage.index import INDEX_TABLES, Indexer
from ehelse.storage.protocol import ResourceVersion
from ehelse.storage.sqlrepo import SavepointLost, SqlRepository
from ehelse.storage.sqlsearch import SearchCompiler

_PREPARE_THRESHOLD = 2  # server-side prepare a statement from its 2nd use on a connection
# Index columns that are not text (migrations 0002, 0004): double precision and the grp integer.
_DOUBLE = frozenset({"value", "low", "high", "canonical_value"})


def _batch_insert(table: str, columns: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    """One statement that inserts every row a transaction buffered for an index table: the
    rows travel as one JSON array of arrays (orjson makes it in C) and the server takes them
    apart (`jsonb_array_elements`, `->>`, a cast per non-text column; jsonb, parsed once,
    cost the server 1.5-1.8 CPU-s for the 82,861 Synthea rows against 2.6-2.7 for json, whose
    `->>` parses a row again per column, and 2.2-2.4 for executemany). psycopg refuses COPY in
    pipeline mode; executemany sends, and the server plans, one statement per row; and
    psycopg's array dumpers are Python loops per element. Also returned: the positions of
    the double precision columns, whose Python values (int, float, Decimal) are sent as text
    so that the server parses each number as it would a bound parameter (an out-of-range one
    still fails the write, NaN and infinities keep their meaning)."""
    names = ("type", "id", "param", *columns)
    selected = []
    numbers = []
    for i, name in enumerate(names):
        if name == "grp":
            selected.append(f"(r->>{i})::integer")
        elif table in ("number_index", "quantity_index") and name in _DOUBLE:
            selected.append(f"(r->>{i})::double precision")
            numbers.append(i)
        else:
            selected.append(f"r->>{i}")
    sql = (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(selected)}"
           " FROM jsonb_array_elements(%s::jsonb) AS r")
    return sql, tuple(numbers)


def _numbers_as_text(row: tuple, numbers: tuple[int, ...]) -> list:
    values = list(row)
    for i in numbers:
        if values[i] is not None and type(values[i]) is not str:
            values[i] = str(values[i])
    return values


_BATCH_INSERT = {table: _batch_insert(table, columns) for table, columns in INDEX_TABLES.items()}


def _inserts(tables: tuple[str, ...]) -> str:
    """One statement inserting into each of these index tables (a data-modifying WITH per
    table but the last, http://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING):
    one round trip and one statement for the client to send instead of one per table."""
    inserts = [_BATCH_INSERT[table][0] for table in tables]
    if len(inserts) == 1:
        return inserts[0]
    return ("WITH " + ", ".join(f"i{n} AS ({sql})" for n, sql in enumerate(inserts[:-1]))
            + " " + inserts[-1])


# The next version of a resource in one statement: its current row replaced, its history
# row appended and, with _CLEARED, its index rows deleted (each sub-statement sees the
# snapshot from before the statement, so none depends on another's effect).
_NEXT_VERSION = ("UPDATE resource SET version_id = %(version_id)s, last_updated = %(last_updated)s,"
                 " method = %(method)s, deleted = %(deleted)s, content = %(content)s"
                 " WHERE type = %(type)s AND id = %(id)s")
_APPEND_VERSION = ("INSERT INTO resource_version (type, id, version_id, last_updated, method, content)"
                   " VALUES (%(type)s, %(id)s, %(version_id)s, %(last_updated)s, %(method)s, %(content)s)")
_CLEARED = "".join(f", clear_{table} AS (DELETE FROM {table} WHERE type = %(type)s AND id = %(id)s)"
                   for table in INDEX_TABLES)
_NEXT_VERSION_SQL = {False: f"WITH current AS ({_NEXT_VERSION}) {_APPEND_VERSION}",
                     True: f"WITH current AS ({_NEXT_VERSION}){_CLEARED} {_APPEND_VERSION}"}


def url_schema(url: str) -> str | None:
    """The schema a URL's `options=-csearch_path=...` names (its first entry), if any."""
    options = pg_conninfo.conninfo_to_dict(url).get("options") or ""
    for option in str(options).replace("-c ", "-c").split():
        if option.startswith("-csearch_path="):
            return option.split("=", 1)[1].split(",")[0].strip().strip('"') or None
    return None


def with_schema(url: str, schema: str) -> str:
    """The URL with its search_path set to `schema` (replacing any it had)."""
    params = pg_conninfo.conninfo_to_dict(url)
    kept = [o for o in str(params.get("options") or "").replace("-c ", "-c").split()
            if not o.startswith("-csearch_path=")]
    params["options"] = " ".join([*kept, f"-csearch_path={schema}"])
    return pg_conninfo.make_conninfo("", **params)


def _unstorable(exc: psycopg.DataError) -> BadRequest:
    """A value PostgreSQL cannot hold (a NUL character in text, a number out of range) is
    the client's mistake: 400, not 500."""
    return BadRequest(f"Value not accepted by the database: {exc}", code="value")


# The first version of a resource: its current row and its history row in one statement.
_INSERT_FIRST = ("WITH first AS (INSERT INTO resource (type, id, version_id, last_updated, method, deleted,"
                 " content) VALUES (%s, %s, %s, %s, %s, false, %s) ON CONFLICT DO NOTHING"
                 " RETURNING type, id, version_id, last_updated, method, content)"
                 " INSERT INTO resource_version (type, id, version_id, last_updated, method, content)"
                 " SELECT * FROM first RETURNING 1")
_INSERT_FRESH = ("WITH first AS (INSERT INTO resource (type, id, version_id, last_updated, method, deleted,"
                 " content) VALUES (%s, %s, %s, %s, %s, false, %s)"
                 " RETURNING type, id, version_id, last_updated, method, content)"
                 " INSERT INTO resource_version (type, id, version_id, last_updated, method, content)"
                 " SELECT * FROM first")
_INSERTS: dict[tuple[str, ...], str] = {}  # index tables -> the statement inserting into them (_inserts)


def _stale_plan(exc: psycopg.Error) -> bool:
    """PostgreSQL's "cached plan must not change result type" (plancache.c, raised by
    RevalidateCachedQuery; the function's name, unlike the message, is not translated)."""
    return exc.diag.source_function == "RevalidateCachedQuery" or "cached plan must not change" in str(exc)


class PostgresRepository(SqlRepository):
    backend = "postgres"
    _FOR_UPDATE = " FOR UPDATE"
    # Search statements are server-side prepared, and run on a generic plan, only where
    # search/execute.py's generic_safe says their plan cannot depend on the values. A
    # generic plan cannot see the values: for a lab trend (patient + a common LOINC code +
    # a date range) one probed every index row of that code per candidate, 56-109 ms
    # instead of 0.4 ms at N=10,000 (bench/search_bench.py, 16 clients). The others are
    # planned for their own values on every request.
    _SEARCH_OPTIONS = {"prepare": False}
    # Those safe statements run on connections of their own whose sessions say
    # plan_cache_mode=force_generic_plan (_search_conns, _generic_pool). Left to plan_cache_mode=auto,
    # PostgreSQL keeps a custom plan whenever the generic plan's estimate costs more than
    # the custom plans did: for a patient search by name and birth day the generic plan
    # counts on 10 birth-day rows at N=10,000 (1 at N=1,000), costs 175 against 21, so the
    # statement was planned on every request, 0.66 ms against 0.33 forced (p50, one client;
    # docs/benchmarks.md, fifth session). The generic plan is the same plan there: the safe
    # shapes leave the planner nothing to choose by the values.
    _GENERIC_SESSION = "SET plan_cache_mode = force_generic_plan"

    def _search_exec(self, conn: psycopg.Connection, sql: str, params: Sequence[Any] = (),
                     generic: bool = False) -> Any:
        # Planning was most of the server's CPU for a selective search (docs/benchmarks.md,
        # fourth session): a safe shape is prepared at once and, once PostgreSQL takes its
        # generic plan, no longer planned per request. Only outside a transaction: inside
        # one a failure could not be retried. Rows come in binary: a resource's content
        # (bytea) as its bytes, not hex text the server writes and psycopg decodes (client
        # CPU for a patient's conditions at N=10,000 0.27-0.31 -> 0.23-0.24 ms).
        if not generic or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return self._exec(conn, sql, params, prepare=False, binary=True)
        try:
            return self._exec(conn, sql, params, prepare=True, binary=True)
        except (pg_errors.InvalidSqlStatementName, pg_errors.FeatureNotSupported) as exc:
            # psycopg defers the DEALLOCATE ALL it owes after a ROLLBACK or DROP in pipeline
            # mode (a failed write, a migration) to the end of the connection's next
            # statement, and so drops a statement it has just prepared while still taking
            # it for prepared. And a column type changed by another connection (an upgrade
            # while servers run) makes PostgreSQL refuse every statement prepared before it
            # ("cached plan must not change result type": a prepared statement's result
            # type is fixed), on every request until the connection is recycled. A
            # DEALLOCATE ALL of our own empties psycopg's cache too (psycopg watches for
            # it): then prepare again. Autocommit: the failed statement left no transaction.
            if isinstance(exc, pg_errors.FeatureNotSupported) and not _stale_plan(exc):
                raise
            conn.execute("DEALLOCATE ALL")
            return self._exec(conn, sql, params, prepare=True, binary=True)

    def __init__(self, url: str, *, db_pool_size: int = 10, schema: str | None = None,
                 indexer: Indexer | None = None, compiler: SearchCompiler | None = None,
                 connect_timeout: float = 10.0, **other_backends_options: Any) -> None:
        # Options meant for other backends (sqlite_readers, create) are accepted and ignored.
        super().__init__(url, indexer=indexer, compiler=compiler)
        conninfo = with_schema(url, schema) if schema else url
        self.schema = schema or url_schema(url)
        self.conninfo = conninfo
        self._pool = ConnectionPool(
            conninfo, min_size=1, max_size=max(1, db_pool_size), timeout=connect_timeout,
            kwargs={"autocommit": True, "prepare_threshold": _PREPARE_THRESHOLD},
            name="ehelse", open=True,
        )
        self._pool_size = max(1, db_pool_size)
        self._connect_timeout = connect_timeout
        self._generic: ConnectionPool | None = None  # opened on the first generic-safe search
        self._generic_lock = threading.Lock()
        self._closed = False

    # -- dialect ------------------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        try:
            return self._sql_cache[sql]
        except KeyError:
            converted = self._sql_cache[sql] = sql.replace("?", "%s")
            return converted

    def _executemany(self, conn: psycopg.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(self._q(sql), rows)

    def _flush_index(self, conn: psycopg.Connection) -> None:
        """The index rows buffered in this transaction: one statement for all tables (see
        _batch_insert and _inserts), in the same transaction as the resources they index."""
        pending = self._local.pending
        if not pending:
            return
        tables = tuple(table for table in INDEX_TABLES if pending.get(table))  # a fixed order: few texts
        payloads = []
        for table in tables:
            rows = pending[table]
            numbers = _BATCH_INSERT[table][1]
            if numbers:
                rows = [_numbers_as_text(row, numbers) for row in rows]
            try:
                payloads.append(orjson.dumps(rows).decode())
            except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate (\ud800) in a string
                raise BadRequest(f"Value not accepted by the database: {exc}", code="value") from exc
        pending.clear()
        if tables:
            try:
                sql = _INSERTS[tables]
            except KeyError:
                sql = _INSERTS[tables] = _inserts(tables)
            conn.execute(sql, payloads, prepare=False)

    def _next_version(self, conn: psycopg.Connection, version: ResourceVersion, *, clear_index: bool) -> bool:
        # One statement (sent without waiting, in the pipeline) instead of an UPDATE, an
        # INSERT and the 8 index DELETEs: each statement cost the client ~40 us of CPU in
        # psycopg and the server a parse-bind-execute of its own.
        self._exec(conn, _NEXT_VERSION_SQL[clear_index],
                   {"type": version.type, "id": version.id, "version_id": version.version_id,
                    "last_updated": version.last_updated, "method": version.method,
                    "deleted": version.deleted, "content": version.content})
        return clear_index

    def _insert_first(self, conn: psycopg.Connection, version: ResourceVersion, *,
                      fresh_id: bool = False) -> bool:
        # One statement for the current row and the history row. For an id made here (a
        # UUID: a clash is next to impossible) nothing is read back: a clash fails the
        # statement (unique violation, which _begin turns into 409 Conflict) and with it the
        # transaction, so a create costs no round trip before the COMMIT.
        params = (version.type, version.id, version.version_id, version.last_updated, version.method,
                  version.content)
        if fresh_id:
            self._exec(conn, _INSERT_FRESH, params)
            return True
        return self._exec(conn, _INSERT_FIRST, params).fetchone() is not None

    def _is_missing_table(self, exc: Exception) -> bool:
        return isinstance(exc, pg_errors.UndefinedTable)

    def _lock_schema(self, conn: psycopg.Connection) -> None:
        # Several servers may start (and upgrade) at once: one at a time per schema.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ehelse.upgrade.' || current_schema()))")

    # -- connections ------------------------------------------------------------------------
    @contextmanager
    def _savepoint(self, conn: psycopg.Connection) -> Iterator[None]:
        """psycopg's nested transaction: its SAVEPOINT, and on an exception the ROLLBACK TO
        with the pipeline brought back in step (a bare ROLLBACK TO after a failed statement
        found the pipeline aborted). An error other than the block's own is the rollback's.
        The block's database errors are answered as a transaction's are (_refusals)."""
        raised: BaseException | None = None
        with self._refusals():
            try:
                with conn.transaction():
                    try:
                        yield
                        # What the block sent without waiting (pipeline mode) answers now,
                        # inside the savepoint: an error there is the block's, rolled back
                        # with it. Left to the RELEASE, it left the whole transaction aborted.
                        with conn.pipeline() as pipeline:
                            pipeline.sync()
                    except BaseException as exc:
                        raised = exc
                        raise
            except BaseException as exc:
                if exc is raised:
                    raise
                raise SavepointLost("the savepoint could not be rolled back or released") from exc

    @contextmanager
    def _begin(self) -> Iterator[psycopg.Connection]:
        with self._refusals():
            # Pipeline mode: statements whose results nobody reads (history and index rows)
            # are sent without waiting for the server, which halves the round trips of a
            # write; any error still surfaces before or at COMMIT and rolls it all back.
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                yield conn

    @staticmethod
    @contextmanager
    def _refusals() -> Iterator[None]:
        """The database's refusals of a write as the client's answers: a transaction's, or a
        savepoint's within one (its writes undone, the error the same)."""
        try:
            yield
        except pg_errors.UniqueViolation as exc:
            # A generated id that exists already (_insert_first): the client may retry. Only
            # `resource`: every other insert of it says ON CONFLICT DO NOTHING, so a clash
            # there is that id. A clash on resource_version (a version taken twice: a lost
            # update) or any other table is a defect of the server and stays one, not a 409
            # that tells the client to retry.
            if exc.diag.table_name != "resource":
                raise
            raise Conflict(f"The resource exists already: {exc.diag.message_detail}") from exc
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
            raise Conflict(f"Concurrent transactions collided; retry: {exc.diag.message_primary}") from exc
        except psycopg.DataError as exc:
            raise _unstorable(exc) from exc

    @contextmanager
    def _read_conn(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.DataError as exc:
            raise _unstorable(exc) from exc

    @contextmanager
    def _search_conns(self) -> Iterator[Callable[[bool], Any]]:
        # A statement generic_safe passed runs on a connection of the generic pool, any
        # other on one of the main pool, taken when the search first needs it. A search holds
        # one connection at a time: it gives one pool's back before it takes the other's, or
        # two searches taking them in opposite orders (a generic search's EXPLAIN for
        # `_total=estimate`; a later page's `_include`) could each hold what the other waits
        # for until the pool's timeout. Nothing is lost by that: the connections are in
        # autocommit, so a search's statements never shared a snapshot. Inside transaction()
        # everything runs on its connection (and is not prepared there: _search_exec).
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield lambda generic: conn
            return
        held: list[Any] = []  # [generic, the pool's context manager, its connection]

        def give_back(exc: BaseException | None = None) -> None:
            if held:
                _, manager, _ = held
                held.clear()
                manager.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

        def conn_for(generic: bool) -> psycopg.Connection:
            if held and held[0] == generic:
                return held[2]
            give_back()
            manager = (self._generic_pool() if generic else self._pool).connection()
            found = manager.__enter__()
            held[:] = [generic, manager, found]
            return found

        try:
            yield conn_for
        except BaseException as exc:
            give_back(exc)
            if isinstance(exc, psycopg.DataError):
                raise _unstorable(exc) from exc
            raise
        give_back()

    def _generic_pool(self) -> ConnectionPool:
        pool = self._generic
        if pool is None:
            with self._generic_lock:
                if self._closed:
                    raise PoolClosed("the repository is closed")
                if self._generic is None:
                    # The mode is set by a statement when a connection is made, not by the
                    # URL's startup `options`: an `options` there would hide PGOPTIONS and a
                    # service file's (libpq takes those only for what the URL leaves out),
                    # and a pooler may not pass startup options on.
                    self._generic = ConnectionPool(
                        self.conninfo, min_size=1, max_size=self._pool_size, timeout=self._connect_timeout,
                        kwargs={"autocommit": True, "prepare_threshold": _PREPARE_THRESHOLD},
                        configure=lambda conn: conn.execute(self._GENERIC_SESSION),
                        name="ehelse-generic", open=True,
                    )
                pool = self._generic
        return pool

    def pool_stats(self) -> dict[str, int]:
        """psycopg_pool's figures (pool_size, pool_available, requests_waiting, ...) for /metrics;
        the generic-plan pool's (_search_conns) with a `generic_` prefix once it is open."""
        stats = dict(self._pool.get_stats())
        if self._generic is not None:
            stats.update({f"generic_{k}": v for k, v in self._generic.get_stats().items()})
        return stats

    def close(self) -> None:
        try:
            self._pool.close()
        finally:
            with self._generic_lock:
                self._closed = True  # a search still running opens no generic pool after this
                if self._generic is not None:
                    self._generic.close()
