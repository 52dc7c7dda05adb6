"""The access facts' change marker: one `facts_version` row shared by every server process.

The issue: access rules are "re-checked on every request". Each process caches facts that
are costly to compute (care sets, representations, blocks: care.CareFacts). A write through
the API of a type those facts are made of (FACT_TYPES) bumps the marker in the write's own
transaction; every request reads it once (one primary-key SELECT) before building its
access view, and a process whose cache was built under another marker drops it. So a new
block, a revoked fullmakt or a referral applies on the very next request, in this process
and in any other on the same database.
"""

from __future__ import annotations

import threading
from typing import Any

# What who-may-see-what is made of (DOMAIN.md): consents (blocks, restrictions, reservation,
# fullmakt), representatives, the patient (address, GP) and care relationships.
FACT_TYPES = frozenset({"Consent", "RelatedPerson", "Patient", "Encounter", "EpisodeOfCare", "Appointment",
                        "ServiceRequest"})
_MEMORY_LOCK = threading.Lock()


def _is_sql(repo: Any) -> bool:
    return hasattr(repo, "_writing") and hasattr(repo, "_exec")


def current(repo: Any) -> int:
    """The marker now (0 on a database without migration 0008 or with no row)."""
    if not _is_sql(repo):
        return getattr(repo, "_facts_version", 0)
    with repo._reading() as conn:
        row = repo._exec(conn, "SELECT version FROM facts_version WHERE id = 1").fetchone()
    return row[0] if row else 0


def bump(repo: Any) -> None:
    """Move the marker, on the caller's open write transaction."""
    if not _is_sql(repo):
        with _MEMORY_LOCK:
            repo._facts_version = getattr(repo, "_facts_version", 0) + 1
        return
    with repo._writing():
        # once per transaction, at its end (storage/sqlrepo.py write_last)
        repo.write_last("facts_version", "UPDATE facts_version SET version = version + 1 WHERE id = 1")
