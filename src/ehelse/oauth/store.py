"""Where the authorisation server keeps its records: in the FHIR database, so every server
process (and every machine) sees the same clients, codes, refresh tokens, sessions and
revocations. Nothing another process needs lives only in memory.

Tables (storage/migrations/*/0003_oauth.sql):
    oauth_record (kind, key, data, expires, used)   -- kinds below; data is JSON
    revoked_token (jti, expires, revoked)           -- access tokens revoked before expiry

    kind        key                      what
    client      client_id                a registered client (oauth/clients.py)
    code        sha256(code)             an authorisation code (RFC 6749 section 4.1.2)
    refresh     sha256(refresh token)    a refresh token (section 6), rotated on use
    session     sha256(session id)       a web session (oauth/sessions.py)
    launch      launch id                an EHR launch context (SMART App Launch 2)
    assertion   client_id + jti          a used client assertion (RFC 7523 section 3, replay)

Secrets are keyed by their SHA-256, so a copy of the database does not hand out live codes,
refresh tokens or sessions. `take()` marks a record used in one statement, so of two
requests racing with one code exactly one wins, on any backend.

The SQL runs on the repository's own connections (SqlRepository's `_writing`/`_reading`/
`_exec` hooks); the in-memory repository of the unit tests gets a MemoryStore instead.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import orjson


def digest(secret: str) -> str:
    """The key a secret is stored under."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SqlStore:
    def __init__(self, repo: Any):
        self.repo = repo

    def _write(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.repo._writing() as conn:
            cursor = self.repo._exec(conn, sql, params)
            return cursor.fetchall() if "RETURNING" in sql else []

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.repo._reading() as conn:
            return self.repo._exec(conn, sql, params).fetchall()

    # -- records ------------------------------------------------------------------------------
    def put(self, kind: str, key: str, data: dict[str, Any], expires: float = 0) -> None:
        """Insert or replace a record (and clear its used mark)."""
        self._write("INSERT INTO oauth_record (kind, key, data, expires, used) VALUES (?, ?, ?, ?, 0)"
                    " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires = excluded.expires,"
                    " used = 0", (kind, key, orjson.dumps(data).decode(), expires))

    def add(self, kind: str, key: str, data: dict[str, Any], expires: float = 0) -> bool:
        """Insert a record unless the key exists (and has not expired); False if it did."""
        now = time.time()
        self._write("DELETE FROM oauth_record WHERE kind = ? AND key = ? AND expires > 0 AND expires <= ?",
                    (kind, key, now))
        rows = self._write("INSERT INTO oauth_record (kind, key, data, expires, used) VALUES (?, ?, ?, ?, 0)"
                           " ON CONFLICT (kind, key) DO NOTHING RETURNING 1",
                           (kind, key, orjson.dumps(data).decode(), expires))
        return bool(rows)

    def get(self, kind: str, key: str) -> tuple[dict[str, Any], bool] | None:
        """(data, used) of a live record, or None when absent or expired."""
        rows = self._read("SELECT data, used, expires FROM oauth_record WHERE kind = ? AND key = ?", (kind, key))
        if not rows or (rows[0][2] and rows[0][2] <= time.time()):
            return None
        return orjson.loads(rows[0][0]), bool(rows[0][1])

    def take(self, kind: str, key: str) -> dict[str, Any] | None:
        """Mark a live, unused record used and return its data; None if it was absent,
        expired or used already (the caller tells those apart with get())."""
        rows = self._write("UPDATE oauth_record SET used = 1 WHERE kind = ? AND key = ? AND used = 0"
                           " AND (expires = 0 OR expires > ?) RETURNING data", (kind, key, time.time()))
        return orjson.loads(rows[0][0]) if rows else None

    def update(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Replace a record's data, keeping its expiry and used mark."""
        self._write("UPDATE oauth_record SET data = ? WHERE kind = ? AND key = ?",
                    (orjson.dumps(data).decode(), kind, key))

    def delete(self, kind: str, key: str) -> bool:
        return bool(self._write("DELETE FROM oauth_record WHERE kind = ? AND key = ? RETURNING 1", (kind, key)))

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._read("SELECT key, data FROM oauth_record WHERE kind = ? ORDER BY key", (kind,))
        return [(key, orjson.loads(data)) for key, data in rows]

    def purge_expired(self) -> None:
        now = time.time()
        self._write("DELETE FROM oauth_record WHERE expires > 0 AND expires <= ?", (now,))
        self._write("DELETE FROM revoked_token WHERE expires <= ?", (now,))

    # -- revoked access tokens -----------------------------------------------------------------
    def revoke_jti(self, jti: str, expires: float) -> None:
        self._write("INSERT INTO revoked_token (jti, expires, revoked) VALUES (?, ?, ?)"
                    " ON CONFLICT (jti) DO NOTHING", (jti, expires, time.time()))

    def revoked_since(self, since: float) -> list[tuple[str, float, float]]:
        """(jti, expires, revoked) of revocations made at or after `since` that still matter."""
        return self._read("SELECT jti, expires, revoked FROM revoked_token WHERE revoked >= ? AND expires > ?",
                          (since, time.time()))


class MemoryStore:
    """The same records in a dict, for the in-memory repository of unit tests."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], list[Any]] = {}  # (kind, key) -> [data, expires, used]
        self._revoked: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _live(self, kind: str, key: str) -> list[Any] | None:
        record = self._records.get((kind, key))
        if record is None or (record[1] and record[1] <= time.time()):
            return None
        return record

    def put(self, kind, key, data, expires=0):
        with self._lock:
            self._records[(kind, key)] = [orjson.loads(orjson.dumps(data)), expires, False]

    def add(self, kind, key, data, expires=0):
        with self._lock:
            if self._live(kind, key) is not None:
                return False
            self._records[(kind, key)] = [orjson.loads(orjson.dumps(data)), expires, False]
            return True

    def get(self, kind, key):
        record = self._live(kind, key)
        return (orjson.loads(orjson.dumps(record[0])), record[2]) if record else None

    def take(self, kind, key):
        with self._lock:
            record = self._live(kind, key)
            if record is None or record[2]:
                return None
            record[2] = True
            return orjson.loads(orjson.dumps(record[0]))

    def update(self, kind, key, data):
        with self._lock:
            if (kind, key) in self._records:
                self._records[(kind, key)][0] = orjson.loads(orjson.dumps(data))

    def delete(self, kind, key):
        with self._lock:
            return self._records.pop((kind, key), None) is not None

    def list(self, kind):
        return sorted((key, data) for (k, key), (data, _, _) in self._records.items() if k == kind)

    def purge_expired(self):
        now = time.time()
        with self._lock:
            for k in [k for k, r in self._records.items() if r[1] and r[1] <= now]:
                del self._records[k]

    def revoke_jti(self, jti, expires):
        self._revoked.setdefault(jti, (expires, time.time()))

    def revoked_since(self, since):
        now = time.time()
        return [(jti, exp, at) for jti, (exp, at) in self._revoked.items() if at >= since and exp > now]


def store_for(repo: Any) -> SqlStore | MemoryStore:
    """The store of a repository: one per repository object."""
    store = getattr(repo, "_oauth_store", None)
    if store is None:
        store = SqlStore(repo) if hasattr(repo, "_writing") else MemoryStore()
        try:
            repo._oauth_store = store
        except AttributeError:  # a repository with __slots__: no caching, still correct
            pass
    return store


class RevocationList:
    """Which access tokens are revoked, as this process knows it: a set of jtis refreshed
    from `revoked_token` at most every `interval` seconds (only rows newer than the last
    look are read). So a check costs one set lookup, and a revocation made by any process
    holds in every process within `interval` seconds (plus clock skew between machines,
    covered by looking back a further 5 s each time)."""

    def __init__(self, store: Any, interval: float = 2.0):
        self.store = store
        self.interval = interval
        self._jtis: dict[str, float] = {}
        self._checked = 0.0  # monotonic time of the last look
        self._since = 0.0  # wall time the next look starts from
        self._lock = threading.Lock()

    def is_revoked(self, jti: str | None) -> bool:
        if not jti:
            return False
        if time.monotonic() - self._checked >= self.interval:
            self.refresh()
        return jti in self._jtis

    def refresh(self) -> None:
        with self._lock:
            started = time.time()
            for jti, expires, _ in self.store.revoked_since(self._since):
                self._jtis[jti] = expires
            self._since = started - 5.0
            self._checked = time.monotonic()
            if len(self._jtis) > 1000:  # forget tokens that have expired anyway
                self._jtis = {j: e for j, e in self._jtis.items() if e > started}

    def add(self, jti: str, expires: float) -> None:
        """Revoke now, in the database and at once in this process."""
        self.store.revoke_jti(jti, expires)
        self._jtis[jti] = expires
