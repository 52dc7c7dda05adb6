"""The audit trail when things go wrong (review of the loop group commit and the COPY path):
a commit whose reply was lost, a row one database cannot hold, a waiter that gave up, a
writer that cannot start. Each time: no read hangs, no read is answered before its row is
committed, and the chain stays whole (verify), on both backends where the backend matters."""

from __future__ import annotations

import asyncio

import pytest

from ehelse.access.actor import Actor
from ehelse.audit import log
from ehelse.audit.events import audit_event
from ehelse.audit.record import row_for
from ehelse.audit.trail import AuditTrail
from ehelse.audit.verify import verify
from ehelse.storage import open_repository

ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="admin-token")
# A bound on each await: a broken trail must fail the test, not hang the suite.
BOUND = 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_repo(request, tmp_path):
    if request.param == "sqlite":
        repository = open_repository(f"sqlite:///{tmp_path / 'faults.sqlite'}")
    else:
        repository = open_repository(request.getfixturevalue("pg_url"))
    repository.upgrade()
    yield repository
    repository.close()


def _row(patient: str, **fields) -> dict:
    return row_for(ADMIN, interaction="read", patient_id=patient, what=[f"Patient/{patient}"], relation="admin",
                   **fields)


def _stored(repo, trail) -> list[dict]:
    return list(log.chain_rows(repo, trail.chain_id))


@pytest.mark.parametrize("awkward", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
def test_a_row_one_backend_cannot_hold_does_not_fail_the_other_reads_of_its_batch(any_repo, awkward):
    # PostgreSQL's text cannot hold NUL; no UTF-8 (SQLite's, PostgreSQL's, the hash's JSON)
    # can hold a lone surrogate (a token's reason is JSON, whose \\ud800 escape makes one).
    # Such a value in one request's row must not fail the commit it shares with other
    # clients' reads, nor leave that request unaudited: it is stored with U+FFFD in place of
    # what cannot be stored, and hashed so.
    trail = AuditTrail(any_repo)
    doctor = Actor("practitioner", "995651119", ("user/*.*",), organization="979513763", purpose="BTG",
                   reason=f"Akutt {awkward}", token_id="t-doc")
    odd = row_for(doctor, interaction="search", patient_id="odd", query="name=x")
    odd["query"] = f"name={awkward}"

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(
            *(trail.durable([_row(f"p{i}")]) for i in range(5)), trail.durable([odd]),
            *(trail.durable([_row(f"q{i}")]) for i in range(5))), BOUND)

    asyncio.run(main())
    stored = _stored(any_repo, trail)
    assert len(stored) == 11 and trail.commits == 1
    kept = next(r for r in stored if r["patient"] == "odd")
    assert kept["query"] == "name=a\ufffdb" and kept["reason"] == "Akutt a\ufffdb"
    assert verify(any_repo).ok
    # the thread path (record) and a write transaction (log.insert) store it the same way
    trail.record([audit_event(doctor, interaction="search", patient_id="odd2")])
    with trail.transaction():
        trail.record([audit_event(doctor, interaction="create", patient_id="odd3")])
    assert [r["reason"] for r in _stored(any_repo, trail)[-2:]] == ["Akutt a\ufffdb"] * 2
    assert verify(any_repo).ok
