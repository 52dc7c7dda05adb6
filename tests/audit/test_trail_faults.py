"""The audit trail when things go wrong (review of the loop group commit and the COPY path):
a commit whose reply was lost, a row one database cannot hold, a waiter that gave up, a
writer that cannot start. Each time: no read hangs, no read is answered before its row is
committed, and the chain stays whole (verify), on both backends where the backend matters."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest

from ehelse.access.actor import Actor
from ehelse.audit import log
from ehelse.audit.events import audit_event
from ehelse.audit.record import row_for
from ehelse.audit.trail import AuditTrail
from ehelse.audit.verify import verify
from ehelse.storage import SearchQuery, open_repository

ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="admin-token")
# A bound on each await: a broken trail must fail the test, not hang the suite.
BOUND = 20



def _row(patient: str, **fields) -> dict:
    return row_for(ADMIN, interaction="read", patient_id=patient, what=[f"Patient/{patient}"], relation="admin",
                   **fields)


def _stored(repo, trail) -> list[dict]:
    return list(log.chain_rows(repo, trail.chain_id))


@contextmanager
def journal_full(monkeypatch):
    """While the block runs, the audit journal's write(2) fails as on a full disk (SQLite:
    records outside a write transaction go to the journal first, audit/journal.py)."""
    import errno

    from ehelse.audit import journal

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(journal, "_write_all", full)
        yield


class ReplyLost(ConnectionError):
    """The database committed, but the client never heard it (a restart, a dropped link)."""


def test_a_commit_whose_reply_was_lost_does_not_stop_the_chain(any_repo, monkeypatch):
    # The trail cannot tell a commit that failed from one that landed without its reply.
    # Taking the old seq again for the next batch would collide with the landed row (the
    # primary key refuses it) on every later commit: no read could be audited again.
    real = log.appending
    lose = [True]

    @contextmanager
    def reply_lost(repo):
        with real(repo) as append:
            yield append
        if lose.pop() if lose else False:
            raise ReplyLost("server closed the connection unexpectedly")

    monkeypatch.setattr(log, "appending", reply_lost)
    trail = AuditTrail(any_repo, use_journal=False)
    with pytest.raises(ReplyLost):  # the read it belonged to is not answered
        asyncio.run(asyncio.wait_for(trail.durable([_row("landed")]), BOUND))
    asyncio.run(asyncio.wait_for(trail.durable([_row("next")]), BOUND))
    trail.record([audit_event(ADMIN, interaction="read", patient_id="thread")])
    assert [(r["seq"], r["patient"]) for r in _stored(any_repo, trail)] == [(1, "landed"), (2, "next"), (3, "thread")]
    assert verify(any_repo).ok


def test_a_write_transaction_whose_reply_was_lost_does_not_stop_the_chain(any_repo, monkeypatch):
    real = any_repo.transaction
    lose = [True]
    depth = [0]

    @contextmanager
    def reply_lost():
        depth[0] += 1  # log.insert's own transaction() inside it joins it
        try:
            with real():
                yield
        finally:
            depth[0] -= 1
        if depth[0] == 0 and (lose.pop() if lose else False):
            raise ReplyLost("server closed the connection unexpectedly")

    trail = AuditTrail(any_repo, use_journal=False)
    monkeypatch.setattr(any_repo, "transaction", reply_lost)
    with pytest.raises(ReplyLost):
        with trail.transaction():
            trail.record([audit_event(ADMIN, interaction="create", patient_id="landed")])
    monkeypatch.setattr(any_repo, "transaction", real)
    with trail.transaction():
        trail.record([audit_event(ADMIN, interaction="update", patient_id="next")])
    assert [(r["seq"], r["patient"]) for r in _stored(any_repo, trail)] == [(1, "landed"), (2, "next")]
    assert verify(any_repo).ok


@pytest.mark.parametrize("awkward", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
def test_a_row_one_backend_cannot_hold_does_not_fail_the_other_reads_of_its_batch(any_repo, awkward):
    # PostgreSQL's text cannot hold NUL; no UTF-8 (SQLite's, PostgreSQL's, the hash's JSON)
    # can hold a lone surrogate (a token's reason is JSON, whose \\ud800 escape makes one).
    # Such a value in one request's row must not fail the commit it shares with other
    # clients' reads, nor leave that request unaudited: it is stored with U+FFFD in place of
    # what cannot be stored, and hashed so.
    trail = AuditTrail(any_repo, use_journal=False)
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


def test_a_cancelled_submit_does_not_stop_the_writer(any_repo):
    # submit()'s future is awaited through asyncio.wrap_future; a cancelled await cancels it.
    # The writer must neither die on it (every later durable() would wait forever) nor
    # leave the other futures of its batch unset.
    trail = AuditTrail(any_repo, use_journal=False)
    with trail._lock:  # the writer cannot take the batch before both are queued
        gone = trail.submit([audit_event(ADMIN, interaction="read", patient_id="gone")])
        kept = trail.submit([audit_event(ADMIN, interaction="read", patient_id="kept")])
        assert gone.cancel()
    assert kept.result(timeout=BOUND) == [f"{trail.chain_id}-1"]
    asyncio.run(asyncio.wait_for(trail.durable([_row("after")]), BOUND))
    assert [r["patient"] for r in _stored(any_repo, trail)] == ["kept", "after"]
    assert verify(any_repo).ok


def test_a_writer_that_cannot_start_fails_the_batch_and_the_loop_goes_on(any_repo, monkeypatch):
    # A thread that cannot be started (RuntimeError: can't start new thread) fails the reads
    # of that batch; the batcher must not stay busy, or every later read on the loop waits
    # forever.
    trail = AuditTrail(any_repo, use_journal=False)
    real = trail._start_writer
    fail = [True]

    def start() -> None:
        if fail.pop() if fail else False:
            raise RuntimeError("can't start new thread")
        real()

    monkeypatch.setattr(trail, "_start_writer", start)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(trail.durable([_row("refused")]), BOUND)
        await asyncio.wait_for(trail.durable([_row("after")]), BOUND)

    asyncio.run(main())
    assert [(r["seq"], r["patient"]) for r in _stored(any_repo, trail)] == [(1, "after")]
    assert verify(any_repo).ok


def test_several_loops_and_threads_share_one_gapless_chain(any_repo):
    # Two event loops (durable) and two threads (record) at once: one chain, seq 1..n with
    # no gap and no duplicate, every `previous` the hash before it, every value as hashed
    # (non-BMP characters and a query of 2,000 bytes included: COPY's text format).
    import threading

    trail = AuditTrail(any_repo, use_journal=False)
    errors: list[BaseException] = []

    def loop_worker(name: str) -> None:
        async def main() -> None:
            for wave in range(5):
                await asyncio.wait_for(asyncio.gather(*(trail.durable([_row(f"{name}{wave}-{i}")])
                                                        for i in range(12))), BOUND)
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    def thread_worker(name: str) -> None:
        try:
            for i in range(15):
                trail.record([audit_event(ADMIN, interaction="search", patient_id=f"{name}{i}",
                                          query=f"note=𝄞\t\\\n{'ø' * 1200}")])
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=loop_worker, args=(n,)) for n in ("a", "b")]
    workers += [threading.Thread(target=thread_worker, args=(n,)) for n in ("t", "u")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(BOUND * 5)
    assert not errors and not any(w.is_alive() for w in workers)
    stored = _stored(any_repo, trail)
    assert [r["seq"] for r in stored] == list(range(1, 2 * 60 + 2 * 15 + 1))
    assert len({r["patient"] for r in stored}) == len(stored)
    searches = [r for r in stored if r["interaction"] == "search"]
    assert all(r["query"].startswith("note=𝄞\t\\\n") and len(r["query"].encode()) == 2000 for r in searches)
    assert verify(any_repo).ok


def test_a_read_whose_client_left_still_leaves_the_loop_working(any_repo):
    # A request cancelled while its row waits (the client went away): nothing is answered;
    # the row still commits with its batch (the access happened), and the loop goes on.
    trail = AuditTrail(any_repo, use_journal=False)

    async def main() -> None:
        gone = asyncio.ensure_future(trail.durable([_row("gone")]))
        stays = asyncio.ensure_future(trail.durable([_row("stays")]))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.wait_for(stays, BOUND)
        with pytest.raises(asyncio.CancelledError):
            await gone
        await asyncio.wait_for(trail.durable([_row("after")]), BOUND)

    asyncio.run(main())
    assert [r["patient"] for r in _stored(any_repo, trail)] == ["gone", "stays", "after"]
    assert verify(any_repo).ok


@pytest.mark.postgres
def test_after_a_database_restart_the_trail_commits_on_a_live_connection(pg_url):
    # PostgreSQL ended the pool's connections (a restart, an administrator) and is back.
    # The trail's commit must not fail its reads on the dead connections the pool still
    # holds (one batch of up to 32 reads answered 500 per dead connection): a BEGIN that
    # fails has sent nothing of the batch, so the commit takes the next connection.
    import secrets

    from testsupport import pg_base_url

    import psycopg

    name = f"ehelse-trail-{secrets.token_hex(4)}"
    repository = open_repository(f"{pg_url}&application_name={name}" if "?" in pg_url
                                 else f"{pg_url}?application_name={name}")
    repository.upgrade()
    admin = psycopg.connect(pg_base_url(), autocommit=True)
    try:
        trail = AuditTrail(repository, use_journal=False)
        # several pooled connections, all idle in the pool when the server ends them
        pool = repository._pool
        held = [pool.getconn() for _ in range(3)]
        for conn in held:
            pool.putconn(conn)
        asyncio.run(asyncio.wait_for(trail.durable([_row("before")]), BOUND))
        ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                              " WHERE application_name = %s", (name,)).fetchone()[0]
        assert ended >= 3
        for i in range(3):
            asyncio.run(asyncio.wait_for(trail.durable([_row(f"after{i}")]), BOUND))
        stuck = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                              " AND state LIKE 'idle in transaction%%'", (name,)).fetchone()[0]
        assert stuck == 0
        stored = list(log.chain_rows(repository, trail.chain_id))
        assert [(r["seq"], r["patient"]) for r in stored] == [(1, "before"), (2, "after0"), (3, "after1"),
                                                                (4, "after2")]
        assert verify(repository).ok
    finally:
        admin.close()
        repository.close()


@pytest.mark.postgres
def test_with_the_database_down_a_commit_fails_at_once_and_nothing_waits_forever(pg_url):
    # Nothing listens where the database was: the commit fails (the pool's timeout bounds
    # it), its reads are not answered with data, and the trail takes the next one again.
    from ehelse.storage.postgres import PostgresRepository

    import psycopg

    down = PostgresRepository("postgresql://postgres@127.0.0.1:1/test", connect_timeout=1.0)
    try:
        trail = AuditTrail(down)
        for _ in range(2):
            with pytest.raises(psycopg.OperationalError):
                asyncio.run(asyncio.wait_for(trail.durable([_row("nobody")]), BOUND))
    finally:
        down.close()


def test_over_http_a_failed_audit_commit_answers_503_without_data_and_the_next_reads_succeed(any_repo, monkeypatch):
    # The whole app, reads by id on the event loop (web/fhir.py awaits durable()): while the
    # trail cannot commit, every read gets a 503 OperationOutcome that holds none of the
    # patient's data; once it can, the same reads are answered and audited, chain whole.
    import secrets

    import httpx

    from ehelse.settings import Settings
    from ehelse.web.app import create_app

    tag = secrets.token_hex(4)
    ids = [any_repo.update({"resourceType": "Patient", "id": f"r{tag}-{i}",
                            "name": [{"family": f"Hemmelig{tag}"}]})[0].id for i in range(6)]
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False), any_repo)
    real = log.appending

    @contextmanager
    def broken(repo):
        with real(repo):
            raise ConnectionError("the audit database went away")
        yield  # pragma: no cover - never reached

    async def reads() -> list[httpx.Response]:
        token = app.state.tokens.issue("admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            return await asyncio.wait_for(asyncio.gather(*(client.get(f"/fhir/Patient/{id}") for id in ids)), BOUND)

    if any_repo.backend == "sqlite":  # the journal takes the reads' records (audit/journal.py)
        with journal_full(monkeypatch):
            failed = asyncio.run(reads())
    else:
        monkeypatch.setattr(log, "appending", broken)
        failed = asyncio.run(reads())
    assert [r.status_code for r in failed] == [503] * len(ids)
    assert all(r.json()["resourceType"] == "OperationOutcome" and f"Hemmelig{tag}" not in r.text for r in failed)
    assert all(r.json()["issue"][0]["code"] == "transient" and r.headers["retry-after"] for r in failed)
    monkeypatch.setattr(log, "appending", real)
    answered = asyncio.run(reads())
    assert [r.status_code for r in answered] == [200] * len(ids)
    assert all(f"Hemmelig{tag}" in r.text for r in answered)
    from ehelse.audit.trail import trail_for

    rows = list(log.chain_rows(any_repo, trail_for(any_repo).outside.chain_id))
    assert sorted(r["patient"] for r in rows) == sorted(ids)
    assert verify(any_repo).ok


@contextmanager
def audit_refused(repo, message: str):
    """While the block runs, the database itself refuses every audit_log row (a trigger),
    as a full disk or a broken table would: the trail's real commit fails."""
    if repo.backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(repo.path, isolation_level=None)
        create = (f"CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                  f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        drop = "DROP TRIGGER refuse_audit"
    else:
        import psycopg

        conn = psycopg.connect(repo.url, autocommit=True)
        conn.execute(f"CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                     f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        create = ("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                  "FOR EACH ROW EXECUTE FUNCTION refuse_audit()")
        drop = "DROP TRIGGER refuse_audit ON audit_log; DROP FUNCTION refuse_audit()"
    try:
        conn.execute(create)
        yield
    finally:
        conn.execute(drop)
        conn.close()


def test_over_http_an_audit_write_the_database_refuses_answers_503_and_sends_no_data(any_repo, monkeypatch):
    # http.html: 503 when the server cannot answer for now. The data must not leave
    # without its audit record (docs/access.md), so while the database refuses the audit
    # rows, reads by id and searches (on the loop, on SQLite), $everything (in a worker thread) all
    # answer a `transient` OperationOutcome with Retry-After, and nothing of the patient;
    # once it takes them again the same requests are answered, and audited.
    import secrets

    import httpx

    from ehelse.audit.trail import trail_for
    from ehelse.settings import Settings
    from ehelse.web.app import create_app

    tag = secrets.token_hex(4)
    patient = any_repo.update({"resourceType": "Patient", "id": f"full-{tag}", "name": [{"family": f"Disk{tag}"}]})[0]
    any_repo.update({"resourceType": "Observation", "id": f"obs-{tag}", "status": "final",
                     "code": {"text": f"Blodtrykk{tag}"}, "subject": {"reference": f"Patient/{patient.id}"}})
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False), any_repo)
    paths = [(f"/fhir/Patient/{patient.id}", {}), ("/fhir/Observation", {"subject": f"Patient/{patient.id}"}),
             (f"/fhir/Patient/{patient.id}/$everything", {})]

    async def requests() -> list[httpx.Response]:
        token = app.state.tokens.issue("admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            return [await asyncio.wait_for(client.get(path, params=params), BOUND) for path, params in paths]

    trail = trail_for(any_repo)
    before = len(_stored(any_repo, trail.outside))
    # SQLite: the reads' records go to the journal first (audit/journal.py), so it is the
    # journal's write that fails on a full disk
    with journal_full(monkeypatch) if any_repo.backend == "sqlite" else audit_refused(any_repo, "database or disk is full"):
        refused = asyncio.run(requests())
    assert [r.status_code for r in refused] == [503] * len(paths)
    for response in refused:
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "transient"
        assert int(response.headers["retry-after"]) > 0
        assert tag not in response.text  # neither the patient's name, nor the observation, nor the ids
    if any_repo.backend == "sqlite":  # a journal that failed is left; the next chain starts afresh
        before = len(_stored(any_repo, trail.outside))
    assert len(_stored(any_repo, trail.outside)) == before  # nothing was recorded, and nothing was sent
    answered = asyncio.run(requests())
    assert [r.status_code for r in answered] == [200] * len(paths)
    assert all(f"Disk{tag}" in r.text or f"Blodtrykk{tag}" in r.text for r in answered)
    assert [r["patient"] for r in _stored(any_repo, trail.outside)[before:]] == [patient.id] * len(paths)
    assert verify(any_repo).ok


def test_on_sqlite_records_wait_in_the_journal_while_the_table_refuses_them(sqlite_url):
    # The table refusing rows (a trigger, as a broken table would) no longer stops reads on
    # SQLite: their records are durable in the journal, and move into the table once it
    # takes them again; until then a reader of the log gets the database's error, not a
    # log with holes.
    import secrets

    import httpx

    from ehelse.audit.trail import trail_for
    from ehelse.settings import Settings
    from ehelse.web.app import create_app

    repo = open_repository(sqlite_url)
    repo.upgrade()
    tag = secrets.token_hex(4)
    patient = repo.update({"resourceType": "Patient", "id": f"wait-{tag}", "name": [{"family": f"Vent{tag}"}]})[0]
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False), repo)

    async def reads() -> list[httpx.Response]:
        token = app.state.tokens.issue("admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            return [await asyncio.wait_for(client.get(f"/fhir/Patient/{patient.id}"), BOUND) for _ in range(3)]

    import sqlite3

    with audit_refused(repo, "audit table broken"):
        answered = asyncio.run(reads())
        assert [r.status_code for r in answered] == [200] * 3
        with pytest.raises(sqlite3.IntegrityError):
            log.select(repo, log.LogQuery(patients=[patient.id]))
    rows = log.select(repo, log.LogQuery(patients=[patient.id]))
    assert len(rows) == 3 and {r["chain"] for r in rows} == {trail_for(repo).outside.chain_id}
    assert verify(repo).ok
    repo.close()


def test_a_chain_head_moved_by_someone_else_is_read_back_after_the_collision(any_repo):
    # Two trails on one chain id (a trail copied into a forked process, say): each one's
    # seq is behind once the other wrote. The colliding commit fails (primary key) and is
    # not answered; the one after it must go on from the table's last row, not collide for good.
    first = AuditTrail(any_repo, use_journal=False)
    second = AuditTrail(any_repo, chain_id=first.chain_id, use_journal=False)

    def attempt(trail: AuditTrail, patient: str) -> bool:
        try:
            asyncio.run(asyncio.wait_for(trail.durable([_row(patient)]), BOUND))
            return True
        except asyncio.TimeoutError:
            raise
        except Exception:
            return False

    assert attempt(first, "a1")
    assert not attempt(second, "b1")  # seq 1 is taken
    assert attempt(second, "b2")
    assert not attempt(first, "a2")  # seq 2 is taken
    assert attempt(first, "a3")
    with pytest.raises(Exception):
        with second.transaction():
            second.record([audit_event(ADMIN, interaction="create", patient_id="b3")])
    with second.transaction():
        second.record([audit_event(ADMIN, interaction="create", patient_id="b4")])
    assert [(r["seq"], r["patient"]) for r in _stored(any_repo, first)] == [(1, "a1"), (2, "b2"), (3, "a3"), (4, "b4")]
    assert verify(any_repo).ok


@pytest.mark.postgres
def test_a_database_error_in_the_trails_commit_is_not_a_client_error(pg_url, monkeypatch):
    # The trail's rows are storable (sealed_digest), so a DataError in its own commit is
    # the server's trouble, not the client's: it must not come back as a FhirError (400).
    # Callers treat a FhirError as an answer about one part and go on: the bulk export
    # reports a type as a problem and serves the others' files, whose audit rows that
    # failed commit held.
    import psycopg

    from ehelse.errors import FhirError

    repository = open_repository(pg_url)
    repository.upgrade()
    real = log.appending

    @contextmanager
    def refusing(repo):
        with real(repo):
            def append(rows):
                raise psycopg.DataError("value out of range")

            yield append

    try:
        trail = AuditTrail(repository, use_journal=False)
        monkeypatch.setattr(log, "appending", refusing)
        with pytest.raises(psycopg.DataError) as raised:
            trail.record([audit_event(ADMIN, interaction="read", patient_id="p")])
        assert not isinstance(raised.value, FhirError)
        monkeypatch.setattr(log, "appending", real)
        trail.record([audit_event(ADMIN, interaction="read", patient_id="after")])
        assert [(r["seq"], r["patient"]) for r in _stored(repository, trail)] == [(1, "after")]
    finally:
        repository.close()



def test_a_refusal_that_cannot_be_audited_answers_503(sqlite_url, monkeypatch):
    # A refused write is audited at once, from the worker thread, outside any transaction
    # (SecuredRepository._check_write, AuditTrail.record): on SQLite into the journal. While
    # the journal cannot be written (a full disk) the refusal cannot be recorded: 503 with
    # Retry-After (storage/unavailable.py maps the OS's ENOSPC), not a 500, and nothing is
    # written; afterwards the same request gets its 403, recorded.
    import httpx

    from ehelse.settings import Settings
    from ehelse.web.app import create_app

    repo = open_repository(sqlite_url)
    repo.upgrade()
    repo.update({"resourceType": "Patient", "id": "other", "name": [{"family": "Annen"}]})
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False, validate=False), repo)
    citizen = app.state.tokens.issue("patient:01010112345", scope="patient/*.*")
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "Patient/other"}}

    async def post():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {citizen}"}) as client:
            return await asyncio.wait_for(client.post("/fhir/Observation", json=observation), BOUND)

    with journal_full(monkeypatch):
        refused = asyncio.run(post())
    assert refused.status_code == 503 and refused.headers["retry-after"], refused.text
    assert refused.json()["issue"][0]["code"] == "transient"
    again = asyncio.run(post())
    assert again.status_code == 403, again.text
    assert [r["outcome"] for r in log.select(repo, log.LogQuery(patients=["other"]))] == ["4"]
    assert repo.search("Observation", SearchQuery()).entries == []  # nothing was written
    repo.close()


def test_when_durable_says_once_the_rows_are_stored_and_says_why_not(any_repo, monkeypatch):
    # AuditTrail.when_durable, for a batch of reads by id (web/reads.py): `then(None)` once
    # the rows are durable (SQLite: the journal's write, before it returns; PostgreSQL: the
    # loop's group commit), `then(error)` when they could not be written.
    trail = AuditTrail(any_repo)
    said: list = []

    async def main() -> None:
        trail.when_durable([], said.append)  # nothing to write: said at once
        assert said == [None]
        done = asyncio.get_running_loop().create_future()
        trail.when_durable([_row("w1"), _row("w2")], lambda error: (said.append(error), done.set_result(None)))
        await asyncio.wait_for(done, BOUND)
        assert said == [None, None]
        if trail.journal is not None:
            with journal_full(monkeypatch):
                trail.when_durable([_row("lost")], said.append)
            assert isinstance(said[-1], OSError)

    asyncio.run(main())
    stored = [r["patient"] for r in log.select(any_repo, log.LogQuery(newest_first=False))]
    assert stored[-2:] == ["w1", "w2"] and "lost" not in stored
    assert verify(any_repo).ok
