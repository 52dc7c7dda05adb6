"""The job table of FHIR Bulk Data export (storage/migrations/*/0005_bulk_export_strategy.sql).

A kick-off inserts a row (status `accepted`); a worker in any server process claims it in one
statement and holds a lease it renews while it works (`heartbeat`). A worker that dies stops
renewing, and when the lease runs out another worker claims the job again and runs it from
the start (output files are rewritten whole, so a retried job never mixes two runs). Claims:

    PostgreSQL  SELECT ... FOR UPDATE SKIP LOCKED inside the UPDATE: concurrent workers never
                wait for each other and never both get one job;
    SQLite      one UPDATE ... WHERE id = (SELECT ...) RETURNING: SQLite has one writer, so
                the statement is atomic across processes.

Status values: accepted -> running -> completed | failed; cancelled (DELETE) at any point.
The SQL runs on the repository's own connections (SqlRepository `_writing`/`_reading`/`_exec`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from ehelse.access.actor import Actor

_COLUMNS = ("id, owner, request, status, progress, transaction_time, created, updated, worker, lease_until,"
            " attempts, manifest, error, expires")
_CLAIMABLE = "(status = 'accepted' OR (status = 'running' AND lease_until < ?))"


@dataclass(slots=True)
class Job:
    id: str
    owner: dict[str, Any]
    request: dict[str, Any]
    status: str
    progress: str
    transaction_time: str
    created: float
    updated: float
    worker: str
    lease_until: float
    attempts: int
    manifest: dict[str, Any] | None
    error: str
    expires: float

    @classmethod
    def from_row(cls, row: tuple) -> "Job":
        values = list(row)
        values[1] = orjson.loads(values[1])
        values[2] = orjson.loads(values[2])
        values[11] = orjson.loads(values[11]) if values[11] else None
        return cls(*values)

    @property
    def actor(self) -> Actor:
        """The actor the export runs as: the one who asked for it."""
        return Actor(**{k: (tuple(v) if k == "scopes" else v) for k, v in self.owner.items()})

    def owned_by(self, actor: Actor) -> bool:
        return (actor.kind, actor.subject) == (self.owner.get("kind"), self.owner.get("subject"))


def owner_of(actor: Actor) -> dict[str, Any]:
    """What of the actor a job keeps: enough to run as them later, no token."""
    return {"kind": actor.kind, "subject": actor.subject, "scopes": list(actor.scopes), "patient": actor.patient,
            "organization": actor.organization, "purpose": actor.purpose, "reason": actor.reason}


class JobStore:
    def __init__(self, repo: Any):
        self.repo = getattr(repo, "inner", repo)  # a SecuredRepository's own storage
        if not hasattr(self.repo, "_writing"):
            raise TypeError("bulk export needs an SQL repository (SQLite or PostgreSQL)")

    def _write(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.repo._writing() as conn:
            cursor = self.repo._exec(conn, sql, params)
            return cursor.fetchall() if "RETURNING" in sql else []

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.repo._reading() as conn:
            return self.repo._exec(conn, sql, params).fetchall()

    # -- kick-off, status, cancel ------------------------------------------------------------
    def create(self, actor: Actor, request: dict[str, Any], transaction_time: str) -> Job:
        now = time.time()
        id = uuid.uuid4().hex
        self._write(f"INSERT INTO bulk_job ({_COLUMNS}) VALUES (?, ?, ?, 'accepted', '', ?, ?, ?, '', 0, 0, '', '', 0)",
                    (id, orjson.dumps(owner_of(actor)).decode(), orjson.dumps(request).decode(),
                     transaction_time, now, now))
        job = self.get(id)
        assert job is not None
        return job

    def get(self, id: str) -> Job | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM bulk_job WHERE id = ?", (id,))
        return Job.from_row(rows[0]) if rows else None

    def cancel(self, id: str) -> bool:
        """Mark a job cancelled; its worker notices at its next heartbeat. False if gone."""
        rows = self._write("UPDATE bulk_job SET status = 'cancelled', updated = ?, expires = ?"
                           " WHERE id = ? AND status <> 'cancelled' RETURNING id", (time.time(), time.time(), id))
        return bool(rows)

    # -- workers -----------------------------------------------------------------------------
    def claim(self, worker: str, lease: float) -> Job | None:
        """Take the oldest job that is waiting or whose worker's lease ran out."""
        now = time.time()
        lock = " FOR UPDATE SKIP LOCKED" if self.repo.backend == "postgres" else ""
        rows = self._write(
            f"UPDATE bulk_job SET status = 'running', worker = ?, lease_until = ?, updated = ?,"
            f" attempts = attempts + 1 WHERE id = (SELECT id FROM bulk_job WHERE {_CLAIMABLE}"
            f" ORDER BY created LIMIT 1{lock}) AND {_CLAIMABLE} RETURNING {_COLUMNS}",
            (worker, now + lease, now, now, now))
        return Job.from_row(rows[0]) if rows else None

    def heartbeat(self, job: Job, worker: str, lease: float, progress: str) -> bool:
        """Renew the lease and record progress; False when the job is no longer ours to run
        (cancelled, or taken over after our lease ran out): the worker must stop."""
        now = time.time()
        rows = self._write("UPDATE bulk_job SET lease_until = ?, progress = ?, updated = ?"
                           " WHERE id = ? AND worker = ? AND status = 'running' RETURNING id",
                           (now + lease, progress, now, job.id, worker))
        return bool(rows)

    def complete(self, job: Job, worker: str, manifest: dict[str, Any], retention: float) -> bool:
        now = time.time()
        rows = self._write("UPDATE bulk_job SET status = 'completed', manifest = ?, progress = 'done', updated = ?,"
                           " expires = ? WHERE id = ? AND worker = ? AND status = 'running' RETURNING id",
                           (orjson.dumps(manifest).decode(), now, now + retention, job.id, worker))
        return bool(rows)

    def fail(self, job: Job, worker: str, error: str, retention: float) -> None:
        now = time.time()
        self._write("UPDATE bulk_job SET status = 'failed', error = ?, updated = ?, expires = ?"
                    " WHERE id = ? AND worker = ? AND status = 'running'", (error[:2000], now, now + retention, job.id, worker))

    # -- retention ---------------------------------------------------------------------------
    def expired(self, limit: int = 50) -> list[str]:
        """Jobs past their retention (finished, failed or cancelled ones)."""
        rows = self._read("SELECT id FROM bulk_job WHERE expires > 0 AND expires <= ? AND status <> 'running'"
                          " ORDER BY expires LIMIT ?", (time.time(), limit))
        return [row[0] for row in rows]

    def forget(self, id: str) -> None:
        self._write("DELETE FROM bulk_job WHERE id = ?", (id,))
