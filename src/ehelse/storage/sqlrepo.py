"""What the SQLite and PostgreSQL repositories share: the Repository protocol in SQL.

Tables (storage/migrations/<backend>/): `resource` holds the current version of each
resource (primary key type, id), `resource_version` every version, the index tables of
storage/index.py the search rows of the current versions, `signing_key` the token keys.
A write updates `resource`, appends to `resource_version` and rewrites the resource's index
rows in one database transaction (http://hl7.org/fhir/R4/http.html#update, #delete, #vread).

A backend subclass supplies connections and the dialect:
  _begin()          a context manager: a connection in a fresh write transaction
  _read_conn()      a context manager: a connection for reads outside a transaction
  _executemany()    executemany on its driver
  _FOR_UPDATE       how to lock the current row of a resource while it is rewritten
SQL here is written with `?` placeholders; `_q()` turns them into the driver's style.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Sequence

import orjson

from ehelse.errors import BadRequest, Conflict, PreconditionFailed
from ehelse.storage import migrations
from ehelse.storage.index import INDEX_TABLES, Indexer, default_indexer
from ehelse.storage.protocol import Page, ResourceVersion, SearchQuery
from ehelse.storage.sqlsearch import INSTANT_FORMAT, SearchCompiler, date_range
from ehelse.storage.stamp import new_id, now_instant, stamp

_COLUMNS = "type, id, version_id, last_updated, method, content"
READ_BY_ID = f"SELECT {_COLUMNS} FROM resource WHERE type = ? AND id = ?"
_ITER_BATCH = 500  # rows per keyset page of iter_current
_INSERT_INDEX = {table: f"INSERT INTO {table} (type, id, param, {', '.join(columns)})"
                        f" VALUES ({', '.join('?' * (3 + len(columns)))})"
                 for table, columns in INDEX_TABLES.items()}
# Every index row of one resource in one statement: (table, rowid, param, its value columns
# padded with NULLs to the widest table's); see _rewrite_index.
_WIDEST = max(len(columns) for columns in INDEX_TABLES.values())
_STORED_INDEX = " UNION ALL ".join(
    f"SELECT '{table}', rowid, param, {', '.join(columns + ('NULL',) * (_WIDEST - len(columns)))}"
    f" FROM {table} WHERE type = ? AND id = ?" for table, columns in INDEX_TABLES.items())
_DELETE_INDEX_ROW = {table: f"DELETE FROM {table} WHERE rowid = ?" for table in INDEX_TABLES}


class SavepointLost(Exception):
    """A savepoint's block failed and its rollback did too: the transaction holds writes of
    that block and must be rolled back whole. `__cause__` is the rollback's error."""


def _check_paging(count: int, offset: int) -> None:
    if not (0 <= count < 2**31 and 0 <= offset < 2**62):
        raise BadRequest(f"Page size {count} or offset {offset} out of range", code="value")


class SqlRepository:
    backend = ""  # 'sqlite' | 'postgres': names the migrations folder
    _FOR_UPDATE = ""

    def __init__(self, url: str, *, indexer: Indexer | None = None,
                 compiler: SearchCompiler | None = None) -> None:
        self.url = url
        self._indexer = indexer or default_indexer
        if compiler is None:  # the SearchParameter registry's (imported late: search imports storage)
            from ehelse.search.compile import RegistryCompiler

            compiler = RegistryCompiler(self.backend)  # the backend's full-text syntax
        self._compiler = compiler
        self._local = threading.local()  # .conn: this thread's open transaction, if any
        self._sql_cache: dict[str, str] = {}

    # -- dialect hooks -----------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql

    def _begin(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _read_conn(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(self._q(sql), rows)

    def _exec(self, conn: Any, sql: str, params: Sequence[Any] = (), **options: Any) -> Any:
        # A statement that touches an index table (a search, the DELETE of a rewrite) must
        # see the rows still buffered by _write_index: write them first.
        if "_index" in sql and getattr(self._local, "pending", None):
            self._flush_index(conn)
        return conn.execute(self._q(sql), params, **options)

    # Driver options for search statements (the backends differ in how they may be prepared).
    _SEARCH_OPTIONS: dict[str, Any] = {}

    def _search_exec(self, conn: Any, sql: str, params: Sequence[Any] = (), generic: bool = False) -> Any:
        """A search statement; `generic`: its plan does not depend on the values
        (search/execute.py: generic_safe), so a backend may plan it once and keep the plan."""
        return self._exec(conn, sql, params, **self._SEARCH_OPTIONS)

    # -- connections ------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """The transaction's connection inside transaction() (reads see its writes), else a
        reader."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self._read_conn() as conn:
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One database transaction for the block; nested blocks join the outer one and an
        exception anywhere rolls back the whole of it."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._begin() as conn:
            self._local.conn = conn
            self._local.pending = {}
            self._local.seen = {}
            self._local.last = {}
            try:
                yield
                self._flush_index(conn)  # inside _begin: an error here rolls it all back
                for sql in self._local.last.values():
                    self._exec(conn, sql)
            finally:
                self._local.conn = None
                self._local.pending = None
                self._local.seen = None
                self._local.last = None

    def write_last(self, key: str, sql: str) -> None:
        """Run `sql` once at the end of the open write transaction, however many of its
        writes ask (the access facts' marker, access/freshness.py). At the end, a row that
        many transactions write is locked only from then to the COMMIT, and always after
        the rows of the writes themselves: several writes in one transaction (web/writes.py)
        take their rows' locks in their own order, and a row every transaction takes at the
        start would hold up every other group on PostgreSQL meanwhile. A write undone by its
        savepoint leaves its request here: the marker then moves once more than needed,
        which only makes a cache be built again."""
        self._local.last[key] = sql

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside transaction(): the block's writes undone alone if it raises, the rest of the
        transaction kept (https://www.sqlite.org/lang_savepoint.html,
        https://www.postgresql.org/docs/current/sql-savepoint.html). For several independent
        writes in one transaction (web/writes.py). Raises SavepointLost if the block's writes
        could not be undone: then only a rollback of the whole transaction is safe."""
        conn = self._local.conn
        if conn is None:
            raise RuntimeError("savepoint() outside a transaction")
        self._flush_index(conn)  # what was buffered before belongs to the writes before
        self._local.seen = {}
        try:
            with self._savepoint(conn):
                yield
                self._flush_index(conn)
        except BaseException:
            self._local.pending.clear()  # this block's rows: never written
            self._local.seen = {}  # may hold what the block wrote
            raise

    @contextmanager
    def _savepoint(self, conn: Any) -> Iterator[None]:
        """SAVEPOINT ... RELEASE, or ROLLBACK TO on an exception (the dialect hook)."""
        self._exec(conn, "SAVEPOINT write")
        try:
            yield
        except BaseException:
            try:
                self._exec(conn, "ROLLBACK TO write")
                self._exec(conn, "RELEASE write")
            except BaseException as failure:
                raise SavepointLost("the savepoint could not be rolled back") from failure
            raise
        try:
            self._exec(conn, "RELEASE write")
        except BaseException as failure:
            raise SavepointLost("the savepoint could not be released") from failure

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.transaction():
            yield self._local.conn

    # -- schema -----------------------------------------------------------------------------
    def _lock_schema(self, conn: Any) -> None:
        """Keep concurrent upgrades (several servers starting at once) apart."""

    def upgrade(self) -> int:
        """Apply the migrations this database lacks, all in one transaction; idempotent.
        Returns how many were applied."""
        with self._writing() as conn:
            self._lock_schema(conn)
            self._exec(conn, migrations.SCHEMA_VERSION_TABLE)
            current = self._exec(conn, "SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            pending = migrations.migrations(self.backend)[current:]
            for migration in pending:
                for statement in migration.statements():
                    self._exec(conn, statement)
                self._exec(conn, "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                           (migration.version, migration.name, now_instant()))
            return len(pending)

    def schema_version(self) -> int:
        """The migration version of the database; 0 when it has no schema yet."""
        try:
            with self._reading() as conn:
                return self._exec(conn, "SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        except Exception as exc:  # no schema_version table: a database never upgraded
            if self._is_missing_table(exc):
                return 0
            raise

    def _is_missing_table(self, exc: Exception) -> bool:
        return "schema_version" in str(exc)

    def migrations_current(self) -> bool:
        return self.schema_version() == migrations.latest(self.backend)

    def ping(self) -> None:
        with self._reading() as conn:
            self._exec(conn, "SELECT 1").fetchone()

    # -- reads --------------------------------------------------------------------------------
    def read(self, type: str, id: str) -> ResourceVersion | None:
        # Inside transaction(), a resource read again before anything writes it is answered
        # from the first read: a write's checks read it more than once (access/repository.py
        # reads it for the actor's rights and again for the write rules), and on PostgreSQL
        # each read in the pipeline is a round trip. Answering from the first read is as if
        # both had run at that moment; the write itself reads the row again, locked
        # (_current), so no check of versions (If-Match) relies on it.
        seen = getattr(self._local, "seen", None)
        if seen is not None:
            try:
                return seen[(type, id)]
            except KeyError:
                pass
        with self._reading() as conn:
            row = self._exec(conn, READ_BY_ID, (type, id)).fetchone()
        version = ResourceVersion(*row) if row else None
        if seen is not None:
            seen[(type, id)] = version
        return version

    def vread(self, type: str, id: str, version_id: int) -> ResourceVersion | None:
        with self._reading() as conn:
            row = self._exec(conn, f"SELECT {_COLUMNS} FROM resource_version"
                                   " WHERE type = ? AND id = ? AND version_id = ?",
                             (type, id, version_id)).fetchone()
        return ResourceVersion(*row) if row else None

    def history(self, type: str | None = None, id: str | None = None, *, since: str | None = None,
                at: str | None = None, count: int = 50, offset: int = 0) -> Page:
        # http://hl7.org/fhir/R4/http.html#history: newest first; _since and _at.
        _check_paging(count, offset)
        where, params = [], []
        if type is not None:
            where.append("v.type = ?")
            params.append(type)
        if id is not None:
            where.append("v.id = ?")
            params.append(id)
        if since:
            where.append("v.last_updated >= ?")
            params.append(date_range(since)[0])
        if at:
            # the version current at `at`: the newest one not after it
            end = date_range(at)[1]
            where.append("v.last_updated < ? AND NOT EXISTS (SELECT 1 FROM resource_version w"
                         " WHERE w.type = v.type AND w.id = v.id AND w.version_id > v.version_id"
                         " AND w.last_updated < ?)")
            params.extend((end, end))
        condition = (" WHERE " + " AND ".join(where)) if where else ""
        with self._reading() as conn:
            rows = self._exec(conn, f"SELECT {_COLUMNS} FROM resource_version v{condition}"
                                    " ORDER BY v.last_updated DESC, v.version_id DESC, v.type DESC, v.id DESC"
                                    " LIMIT ? OFFSET ?", (*params, count, offset)).fetchall()
            total = self._page_total(conn, rows, count, offset,
                                     f"SELECT count(*) FROM resource_version v{condition}", params)
        return Page([ResourceVersion(*row) for row in rows], total)

    def _page_total(self, conn: Any, rows: list, count: int, offset: int, sql: str, params: list) -> int:
        """The total: known without counting when this page is the last one and not empty
        (or the first)."""
        if len(rows) < count and (rows or offset == 0):
            return offset + len(rows)
        return self._exec(conn, sql, params).fetchone()[0]

    def supported_search_params(self, type: str) -> dict[str, str]:
        return self._compiler.supported(type)

    def search(self, type: str | None, query: SearchQuery) -> Page:
        # The search issue's entry point (search/execute.py): selection, chains, _has,
        # compartments, sort, stable paging, totals and _include/_revinclude.
        from ehelse.search.execute import default_condition, execute

        _check_paging(query.count, query.offset)
        with self._search_conns() as conn_for:
            return execute(lambda sql, args, generic=False:
                           self._search_exec(conn_for(generic), sql, args, generic).fetchall(),
                           self.backend, type, query,
                           getattr(self._compiler, "condition", None) or default_condition())

    @contextmanager
    def _search_conns(self) -> Iterator[Callable[[bool], Any]]:
        """For one search: `conn_for(generic)`, the connection a statement runs on (`generic`:
        search/execute.py's generic_safe said its plan cannot depend on the values). Here one
        reading connection for all; PostgreSQL runs the generic ones elsewhere."""
        with self._reading() as conn:
            yield lambda generic: conn

    def iter_current(self, type: str | None = None, *, after: str = "") -> Iterator[ResourceVersion]:
        # Keyset pages: no connection is held between pages, so an abandoned iterator costs
        # nothing, and memory stays at one page however large the database.
        last: tuple[str, str] = ("", after if type is not None else "")
        while True:
            if type is None:
                sql = (f"SELECT {_COLUMNS} FROM resource WHERE NOT deleted"
                       " AND (type > ? OR (type = ? AND id > ?)) ORDER BY type, id LIMIT ?")
                params: tuple = (last[0], last[0], last[1], _ITER_BATCH)
            else:
                sql = (f"SELECT {_COLUMNS} FROM resource WHERE NOT deleted AND type = ? AND id > ?"
                       " ORDER BY type, id LIMIT ?")
                params = (type, last[1], _ITER_BATCH)
            with self._reading() as conn:
                rows = self._exec(conn, sql, params).fetchall()
            for row in rows:
                yield ResourceVersion(*row)
            if len(rows) < _ITER_BATCH:
                return
            last = (rows[-1][0], rows[-1][1])

    def types_present(self) -> list[str]:
        # A skip scan over the primary key: one index probe per type instead of reading
        # every row (neither SQLite nor PostgreSQL does that for DISTINCT on their own).
        sql = ("WITH RECURSIVE t(type) AS (SELECT min(type) FROM resource UNION ALL"
               " SELECT (SELECT min(type) FROM resource WHERE type > t.type) FROM t WHERE t.type IS NOT NULL)"
               " SELECT type FROM t WHERE type IS NOT NULL AND EXISTS"
               " (SELECT 1 FROM resource r WHERE r.type = t.type AND NOT r.deleted) ORDER BY type")
        with self._reading() as conn:
            rows = self._exec(conn, sql).fetchall()
        return [row[0] for row in rows]

    # -- writes -------------------------------------------------------------------------------
    # Whether a write may take the current version from a read earlier in its transaction:
    # only where the transaction excludes every other writer from its start (SQLite's
    # BEGIN IMMEDIATE), so that nothing can have changed the row since.
    _READ_IS_CURRENT = False

    def _current(self, conn: Any, type: str, id: str) -> tuple[int, bool, str] | None:
        """(version_id, deleted, last_updated) of the current version, locked for this
        transaction where the backend needs it. The resource is about to be written: a
        read of it earlier in the transaction no longer answers later reads."""
        known = self._local.seen.pop((type, id), False)
        if known is not False and self._READ_IS_CURRENT:
            return None if known is None else (known.version_id, known.deleted, known.last_updated)
        return self._exec(conn, "SELECT version_id, deleted, last_updated FROM resource"
                                f" WHERE type = ? AND id = ?{self._FOR_UPDATE}", (type, id)).fetchone()

    def _insert_first(self, conn: Any, version: ResourceVersion, *, fresh_id: bool = False) -> bool:
        """Insert the first current row of a resource and its history row; False (and
        nothing written) if the type/id exists already, also when another transaction
        inserted it meanwhile. `fresh_id`: the id was just made here (a UUID), so a backend
        may defer the check to the end of the transaction."""
        cursor = self._exec(conn, "INSERT INTO resource (type, id, version_id, last_updated, method, deleted,"
                                  " content) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            (version.type, version.id, version.version_id, version.last_updated,
                             version.method, False, version.content))
        if cursor.rowcount != 1:
            return False
        self._append_version(conn, version)
        return True

    def _replace_current(self, conn: Any, version: ResourceVersion) -> None:
        self._exec(conn, "UPDATE resource SET version_id = ?, last_updated = ?, method = ?, deleted = ?,"
                         " content = ? WHERE type = ? AND id = ?",
                   (version.version_id, version.last_updated, version.method, version.deleted,
                    version.content, version.type, version.id))

    def _next_version(self, conn: Any, version: ResourceVersion, *, clear_index: bool) -> bool:
        """Make `version` the current one and append it to the history. True if its index
        rows were deleted too (a backend may do that in the same statement when
        `clear_index`); False leaves them to _write_index."""
        self._replace_current(conn, version)
        self._append_version(conn, version)
        return False

    def _append_version(self, conn: Any, version: ResourceVersion) -> None:
        self._exec(conn, f"INSERT INTO resource_version ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                   (version.type, version.id, version.version_id, version.last_updated,
                    version.method, version.content))

    # Whether an update keeps the index rows that stay the same (_rewrite_index) instead of
    # deleting every row and inserting them all again.
    _INDEX_DIFF = False

    def index_rows(self, resource: dict[str, Any]) -> list:
        """The search index rows of `resource`, for a caller that makes them before the write
        transaction and hands them to create/update (`index=`): access/repository.py."""
        return self._indexer(resource)

    def _write_index(self, conn: Any, type: str, id: str, resource: dict | None, *, fresh: bool,
                     index: list | None = None) -> None:
        """Rewrite the resource's index rows: none for a deletion; no delete needed for a
        resource that has no rows yet (`fresh`). `index`: the rows, if made beforehand."""
        rows = None if resource is None else index if index is not None else self._indexer(resource)
        if not fresh:
            if rows is not None and self._INDEX_DIFF:
                self._rewrite_index(conn, type, id, rows)
                return
            self._clear_index(conn, type, id)
        if rows is None:
            return
        self._buffer_index(type, id, rows)

    def _clear_index(self, conn: Any, type: str, id: str) -> None:
        for table in INDEX_TABLES:  # _exec writes any buffered rows first
            self._exec(conn, f"DELETE FROM {table} WHERE type = ? AND id = ?", (type, id))

    def _buffer_index(self, type: str, id: str, rows: Any) -> None:
        # Buffered until the transaction commits (or a statement on an index table comes
        # first, see _exec): a transaction Bundle then writes each table with one
        # executemany instead of one per resource and table.
        pending = self._local.pending
        for row in rows:
            try:
                pending[row.table].append((type, id, row.param, *row.values))
            except KeyError:
                pending[row.table] = [(type, id, row.param, *row.values)]

    def _rewrite_index(self, conn: Any, type: str, id: str, rows: list) -> None:
        """An update's index rows as a change to the stored ones: delete the rows that went,
        insert the rows that came, leave the rest. An update usually changes one element
        (a status, a name), so most rows stay; on SQLite every row deleted and inserted
        again dirtied pages of its table and of each of its indexes (token_index_lookup,
        reference_index_target, ...) and, for text_index, of the FTS5 tables: 33 WAL pages
        per update of the CRUD benchmark. Stored rows are matched on every column but
        type/id; the values come back as stored (REAL as float, which equals and hashes
        like the indexer's number), and a row that does not compare equal is replaced,
        never kept wrongly."""
        stored: dict[tuple, list[int]] = {}
        for table, rowid, param, *values in self._exec(conn, _STORED_INDEX, (type, id) * len(INDEX_TABLES)):
            key = (table, param, tuple(values[:len(INDEX_TABLES[table])]))
            try:
                stored[key].append(rowid)
            except KeyError:
                stored[key] = [rowid]
        added = []
        for row in rows:  # an IndexRow equals and hashes as its (table, param, values) tuple
            rowids = stored.get(row)
            if rowids:
                rowids.pop()  # this stored row stays
                if not rowids:
                    del stored[row]
            else:
                added.append(row)
        gone: dict[str, list[tuple[int]]] = {}
        for (table, _, _), rowids in stored.items():
            gone.setdefault(table, []).extend((rowid,) for rowid in rowids)
        for table, rowids in gone.items():
            self._executemany(conn, _DELETE_INDEX_ROW[table], rowids)
        self._buffer_index(type, id, added)

    def _flush_index(self, conn: Any) -> None:
        """Insert the index rows buffered in this transaction, one executemany per table."""
        pending = self._local.pending
        for table, rows in pending.items():
            self._executemany(conn, _INSERT_INDEX[table], rows)
        pending.clear()

    @staticmethod
    def _after(previous: str) -> str:
        """Now, but later than the previous version's instant, so a resource's versions are
        in time order even if the clock steps back (or two machines' clocks differ)."""
        now = now_instant()
        if now > previous:
            return now
        return (datetime.strptime(previous, INSTANT_FORMAT) + timedelta(microseconds=1)).strftime(INSTANT_FORMAT)

    def create(self, resource: dict[str, Any], *, id: str | None = None,
               index: list | None = None) -> ResourceVersion:
        """`index`: the resource's index rows made beforehand by index_rows(resource), so that
        the indexing need not run inside the write transaction (also for update)."""
        type = resource["resourceType"]
        fresh_id = id is None
        id = id or new_id()
        with self._writing() as conn:
            self._local.seen.pop((type, id), None)  # read as absent, if at all: no longer
            last_updated = now_instant()
            version = ResourceVersion(type, id, 1, last_updated, "POST",
                                      stamp(resource, id, 1, last_updated))
            if not self._insert_first(conn, version, fresh_id=fresh_id):
                raise Conflict(f"{type}/{id} exists already")
            self._write_index(conn, type, id, resource, fresh=True, index=index)
        return version

    def update(self, resource: dict[str, Any], *, if_match: int | None = None,
               method: str = "PUT", index: list | None = None) -> tuple[ResourceVersion, bool]:
        type, id = resource["resourceType"], resource["id"]
        cleared = False  # the index rows deleted with the version (_next_version)
        with self._writing() as conn:
            while True:
                current = self._current(conn, type, id)
                live = current is not None and not current[1]
                if if_match is not None and (not live or current[0] != if_match):
                    have = current[0] if live else "none"
                    raise PreconditionFailed(f"{type}/{id}: If-Match expects version {if_match}, current is {have}")
                if current is None:
                    last_updated = now_instant()
                    version = ResourceVersion(type, id, 1, last_updated, method,
                                              stamp(resource, id, 1, last_updated))
                    if self._insert_first(conn, version):
                        break
                    continue  # created by another transaction meanwhile: update that one
                last_updated = self._after(current[2])
                version = ResourceVersion(type, id, current[0] + 1, last_updated, method,
                                          stamp(resource, id, current[0] + 1, last_updated))
                cleared = self._next_version(conn, version, clear_index=live)
                break
            self._write_index(conn, type, id, resource, fresh=not live or cleared, index=index)
        return version, not live

    def delete(self, type: str, id: str, *, if_match: int | None = None) -> ResourceVersion | None:
        with self._writing() as conn:
            current = self._current(conn, type, id)
            live = current is not None and not current[1]
            if if_match is not None and (not live or current[0] != if_match):
                raise PreconditionFailed(f"{type}/{id}: If-Match does not match the current version")
            if not live:
                return None
            version = ResourceVersion(type, id, current[0] + 1, self._after(current[2]), "DELETE", None)
            if not self._next_version(conn, version, clear_index=True):
                self._write_index(conn, type, id, None, fresh=False)
        return version

    # -- the deployment's own records ----------------------------------------------------------
    def signing_keys(self) -> list[dict[str, Any]]:
        with self._reading() as conn:
            rows = self._exec(conn, "SELECT jwk FROM signing_key ORDER BY seq DESC").fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def add_signing_key(self, jwk: dict[str, Any]) -> None:
        if not jwk.get("kid"):
            raise ValueError("a signing key needs a 'kid'")
        with self._writing() as conn:
            self._exec(conn, "INSERT INTO signing_key (kid, created, jwk) VALUES (?, ?, ?)",
                       (jwk["kid"], now_instant(), orjson.dumps(jwk).decode()))
