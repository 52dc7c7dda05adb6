"""The event loop's group commit (AuditTrail.durable, used by web/fhir.py for reads by id):
rows of concurrent reads share one transaction, each read returns only once its row is
committed, a failed commit fails every read of its batch, and the chain still verifies.
And record.row_for: the same row as row_of(audit_event(...)), without the event between."""

from __future__ import annotations

import asyncio
import sqlite3
from itertools import product

import pytest

from ehelse.access.actor import Actor
from ehelse.audit import log
from ehelse.audit.events import audit_event
from ehelse.audit.record import row_for, row_of
from ehelse.audit import trail as trail_module
from ehelse.audit.trail import AuditTrail
from ehelse.audit.verify import verify
from ehelse.storage import open_repository

ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="admin-token")


@pytest.fixture
def repo(tmp_path):
    repository = open_repository(f"sqlite:///{tmp_path / 'loop.sqlite'}")
    repository.upgrade()
    yield repository
    repository.close()


def _row(patient: str) -> dict:
    return row_for(ADMIN, interaction="read", patient_id=patient, what=[f"Patient/{patient}"], relation="admin")


def _committed(repo, tmp_path) -> int:
    # another connection sees only what is committed
    with sqlite3.connect(tmp_path / "loop.sqlite") as other:
        return other.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_concurrent_reads_share_commits_and_each_waits_for_its_own(repo, tmp_path):
    trail = AuditTrail(repo, use_journal=False)
    seen_after: list[int] = []

    async def reader(i: int) -> None:
        await trail.durable([_row(f"p{i}")])
        seen_after.append(_committed(repo, tmp_path))  # its row is there when it resumes

    async def main() -> None:
        await asyncio.gather(*(reader(i) for i in range(64)))

    asyncio.run(main())
    assert trail.seq == 64
    assert _committed(repo, tmp_path) == 64
    assert len(seen_after) == 64 and min(seen_after) >= 1
    # 64 readers that were ready together: a handful of commits, not one per read
    assert trail.commits <= 4, trail.commits
    assert verify(repo).ok


def test_rows_arriving_during_a_commit_go_together_into_the_next(repo):
    trail = AuditTrail(repo, use_journal=False)
    started = asyncio.Event()

    async def early() -> None:
        await trail.durable([_row("first")])

    async def late(i: int) -> None:
        await started.wait()
        await trail.durable([_row(f"late{i}")])

    async def main() -> None:
        first = asyncio.ensure_future(early())
        await asyncio.sleep(0)  # the first batch is handed over
        started.set()
        await asyncio.gather(first, *(late(i) for i in range(20)))

    asyncio.run(main())
    rows = list(log.chain_rows(repo, trail.chain_id))
    assert [r["seq"] for r in rows] == list(range(1, 22))
    assert trail.commits <= 3, trail.commits


def test_a_failed_commit_fails_every_read_of_its_batch_and_leaves_no_gap(repo):
    trail = AuditTrail(repo, use_journal=False)

    def broken(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    async def main() -> list:
        original = log.insert
        log.insert = broken
        try:
            failed = await asyncio.gather(*(trail.durable([_row(f"p{i}")]) for i in range(5)),
                                          return_exceptions=True)
        finally:
            log.insert = original
        await trail.durable([_row("after")])
        return failed

    failed = asyncio.run(main())
    assert all(isinstance(f, sqlite3.OperationalError) for f in failed)
    rows = list(log.chain_rows(repo, trail.chain_id))
    assert [r["seq"] for r in rows] == [1] and rows[0]["patient"] == "after"
    assert verify(repo).ok


def test_a_lone_reader_never_waits_for_company(repo, monkeypatch):
    # One client reading one row at a time: every batch is one row, so the next one is
    # handed over at once, never held for rows that are not coming.
    monkeypatch.setattr(trail_module, "GATHER_SECONDS", 3600.0)
    trail = AuditTrail(repo, use_journal=False)

    async def main() -> None:
        for i in range(5):  # the bound only keeps a broken batcher from hanging the suite
            await asyncio.wait_for(trail.durable([_row(f"p{i}")]), 60)

    asyncio.run(main())
    assert trail.commits == 5 and trail.seq == 5


def test_after_a_batch_of_n_the_next_waits_for_n_rows(repo, monkeypatch):
    # Concurrent readers made a batch of 8: the next batch is held until 8 rows wait (the
    # timer is far away here), so 3 early and 5 later readers commit together, once.
    monkeypatch.setattr(trail_module, "GATHER_SECONDS", 3600.0)
    trail = AuditTrail(repo, use_journal=False)

    async def main() -> None:
        await asyncio.gather(*(trail.durable([_row(f"a{i}")]) for i in range(8)))
        assert trail.commits == 1
        early = [asyncio.ensure_future(trail.durable([_row(f"b{i}")])) for i in range(3)]
        for _ in range(20):  # many loop iterations: nothing is handed over yet
            await asyncio.sleep(0)
        assert trail.commits == 1 and not any(f.done() for f in early)
        await asyncio.gather(*early, *(trail.durable([_row(f"c{i}")]) for i in range(5)))

    asyncio.run(main())
    assert trail.commits == 2 and trail.seq == 16
    assert verify(repo).ok


def test_a_load_that_falls_away_waits_once_then_goes_alone(repo, monkeypatch):
    # After a batch of 8, one reader alone: it waits for the timer once (rows that do not
    # come), and that batch of one makes the next reader go at once.
    monkeypatch.setattr(trail_module, "GATHER_SECONDS", 0.01)
    trail = AuditTrail(repo, use_journal=False)

    async def main() -> list[int]:
        await asyncio.gather(*(trail.durable([_row(f"a{i}")]) for i in range(8)))
        targets = []
        for i in range(3):
            await trail.durable([_row(f"b{i}")])
            targets.append(trail._batchers[asyncio.get_running_loop()].target)
        return targets

    assert asyncio.run(main()) == [1, 1, 1]
    assert trail.commits == 4


def test_no_rows_no_commit(repo):
    trail = AuditTrail(repo, use_journal=False)
    asyncio.run(trail.durable([]))
    assert trail.commits == 0


ACTORS = [
    ADMIN,
    Actor("admin", "ops", ("system/*.*",), organization="979513763"),
    Actor("system", "bulk-client", ("system/*.rs",), token_id="t-sys"),
    Actor("patient", "13116900216", ("patient/*.read",), patient="13116900216", token_id="t-pat"),
    Actor("practitioner", "995651119", ("user/*.*",), organization="979513763", purpose="ETREAT",
          reason="Akutt " * 200, token_id="t-doc"),
    Actor("practitioner", "995651119", ("user/*.*",)),
]


@pytest.mark.parametrize("actor,interaction,what,query,denied,relation,detail", [
    (actor, interaction, what, query, denied, relation, detail)
    for actor, (interaction, what, query), denied, relation, detail in product(
        ACTORS,
        [("read", ["Observation/1"], None), ("search", [f"Observation/{i}" for i in range(30)], "x=æøå" * 500),
         ("$everything", [], None), ("history", ["", "Patient/p"], "")],
        [False, True], ["self", None], [None, "why"])
])
def test_row_for_is_row_of_the_audit_event(actor, interaction, what, query, denied, relation, detail):
    fields = dict(interaction=interaction, patient_id="p", what=what, query=query, denied=denied,
                  relation=relation, detail=detail)
    direct = row_for(actor, **fields)
    flattened = row_of(audit_event(actor, **fields))
    assert direct.keys() == flattened.keys()
    assert {k: v for k, v in direct.items() if k != "recorded"} == \
           {k: v for k, v in flattened.items() if k != "recorded"}
    assert len(direct["recorded"]) == len(flattened["recorded"]) and direct["recorded"].endswith("Z")



def test_awkward_values_are_stored_as_hashed(any_repo):
    # PostgreSQL writes the batch with COPY (audit/log.py): tabs, newlines, backslashes,
    # quotes and non-ASCII in a row must come back byte for byte, or the chain breaks.
    doctor = Actor("practitioner", "995651119", ("user/*.*",), organization="979513763", purpose="BTG",
                   reason="Akutt\tinnlagt\\n \"sår\"\r\nlinje to \\. æøå ✓", token_id="t\\1")
    rows = [row_for(doctor, interaction="search", patient_id=f"p{i}", what=["Observation/1", "Observation/2"],
                    query="code=a\tb&note=\\N,\n;ø", denied=bool(i % 2), relation="none", detail="\\.\n")
            for i in range(40)]  # past one 32-row chunk: the batch is not cut anywhere
    trail = AuditTrail(any_repo, use_journal=False)
    asyncio.run(trail.durable(rows))
    stored = list(log.chain_rows(any_repo, trail.chain_id))
    assert [r["seq"] for r in stored] == list(range(1, 41))
    assert stored == rows  # every column, chain/seq/previous/hash included, as written
    assert verify(any_repo).ok


@pytest.mark.postgres
def test_a_value_postgresql_cannot_hold_is_recorded_in_a_form_it_can(pg_url):
    # A NUL character in a search's text reaches the audit row; PostgreSQL's text refuses
    # it (COPY as well as the repository's inserts). The access is recorded all the same,
    # with U+FFFD for the NUL (record.sealed_digest), hashed as stored; the chain goes on.
    repository = open_repository(pg_url)
    repository.upgrade()
    try:
        trail = AuditTrail(repository, use_journal=False)
        odd = row_for(ADMIN, interaction="search", patient_id="p", query="name=a\x00b")
        asyncio.run(trail.durable([odd]))
        asyncio.run(trail.durable([_row("after")]))
        rows = list(log.chain_rows(repository, trail.chain_id))
        assert [(r["seq"], r["patient"], r["query"]) for r in rows] == [(1, "p", "name=a\ufffdb"), (2, "after", "")]
        assert verify(repository).ok
    finally:
        repository.close()
