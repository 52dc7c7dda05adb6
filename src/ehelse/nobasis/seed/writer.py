"""Bulk writing: resources valid by construction, written in large transactions, a sample
validated on the way.

Each batch is one `repo.transaction()` of `repo.create(resource, id=...)` calls (the Repository
protocol has no bulk insert; one transaction per batch is what makes it fast: one commit,
one fsync). A backend that offers `create_many(resources)` (each resource carrying its id)
gets the whole batch in one call instead, e.g. for COPY on PostgreSQL. Every `validate_every`-th resource goes through ehelse.fhir.validation.validate
first; errors are collected in the report, not raised, so one bad builder shows up as a list
of findings instead of a half-written population.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ehelse.errors import Issue

BATCH = 2000


@dataclass(slots=True)
class Finding:
    """A validation issue in a sampled resource."""

    where: str  # Type/id
    issue: Issue

    def __str__(self) -> str:
        location = f" at {self.issue.expression}" if self.issue.expression else ""
        return f"{self.where}{location}: {self.issue.severity}: {self.issue.diagnostics}"


@dataclass(slots=True)
class BatchWriter:
    repo: Any
    batch_size: int = BATCH
    validate_every: int = 100  # 0: no validation
    counts: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    validated: int = 0
    _buffer: list[dict[str, Any]] = field(default_factory=list)
    _seen: int = 0
    _validate: Callable | None = None

    def add(self, resource: dict[str, Any]) -> None:
        self._seen += 1
        if self.validate_every and self._seen % self.validate_every == 0:
            self.check(resource)
        self._buffer.append(resource)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def add_all(self, resources) -> None:
        for resource in resources:
            self.add(resource)

    def check(self, resource: dict[str, Any]) -> None:
        if self._validate is None:
            from ehelse.fhir.validation import validate

            self._validate = validate
        self.validated += 1
        where = f"{resource['resourceType']}/{resource.get('id')}"
        for issue in self._validate(resource):
            if issue.is_error:
                self.findings.append(Finding(where, issue))

    def flush(self) -> None:
        if not self._buffer:
            return
        create_many = getattr(self.repo, "create_many", None)
        with self.repo.transaction():
            if create_many is not None:
                create_many(self._buffer)
            else:
                for resource in self._buffer:
                    self.repo.create(resource, id=resource["id"])
        self.counts.update(r["resourceType"] for r in self._buffer)
        self._buffer.clear()


def database_size(repo: Any) -> int | None:
    """Bytes the data takes on disk: the SQLite file (with its WAL), or on PostgreSQL the tables
    of the repository's schema with their indexes and TOAST (other schemas in the same database
    are not counted); None when it cannot be told (the in-memory fake)."""
    url = getattr(repo, "url", "")
    if url.startswith("sqlite:"):
        from ehelse.storage.sqlite import sqlite_path

        path = str(sqlite_path(url))
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) or None
    if url.startswith(("postgresql:", "postgres:")):
        try:
            import psycopg

            with psycopg.connect(url) as conn:  # the URL's options carry the schema (search_path)
                return conn.execute(
                    "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchone()[0]
        except Exception:  # noqa: BLE001 - a size is a nicety in a report, never a failure
            return None
    return None
