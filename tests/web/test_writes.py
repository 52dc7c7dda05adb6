"""The write lane (web/writes.py): the writes waiting in a process are staged one by one and
written in one transaction, each in a savepoint of its own; answered after the commit.
Through the whole app (real router, access layer, audit trail) on a real SQLite file and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import contextmanager

import httpx
import orjson
import pytest

from ehelse.access import freshness
from ehelse.audit import log
from ehelse.audit.verify import verify
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.storage.staged import Staged
from ehelse.web.app import create_app
from ehelse.web.writes import WriteLane

pytestmark = pytest.mark.anyio
HEADERS = {"content-type": "application/fhir+json"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    repo = open_repository(url)
    repo.upgrade()
    app = create_app(Settings.from_env({}, log_level="warning", export_worker=False), repo)
    yield app, repo
    repo.close()


@pytest.fixture
def sqlite_served(tmp_path):
    repo = open_repository(f"sqlite:///{tmp_path / 'w.sqlite'}")
    repo.upgrade()
    yield None, repo
    repo.close()


def _lane_of(app) -> WriteLane:
    return app.fhir._writes


async def _client(app) -> httpx.AsyncClient:
    token = app.state.tokens.issue("admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers={"Authorization": f"Bearer {token}", **HEADERS})


def _patient(i: int) -> bytes:
    return orjson.dumps({"resourceType": "Patient", "gender": "female", "name": [{"family": f"Navn{i}"}]})


async def test_concurrent_writes_share_transactions_and_each_is_answered_after_it(served):
    app, repo = served
    marker = freshness.current(repo)
    async with await _client(app) as client:
        created = await asyncio.gather(*(client.post("/fhir/Patient", content=_patient(i)) for i in range(40)))
        assert [r.status_code for r in created] == [201] * 40
        ids = [r.json()["id"] for r in created]
        updated = await asyncio.gather(*(client.put(f"/fhir/Patient/{id}", content=orjson.dumps(
            {"resourceType": "Patient", "id": id, "gender": "male"})) for id in ids))
        assert [r.status_code for r in updated] == [200] * 40
        assert all(r.json()["meta"]["versionId"] == "2" for r in updated)
        deleted = await asyncio.gather(*(client.delete(f"/fhir/Patient/{id}") for id in ids[:20]))
        assert {r.status_code for r in deleted} <= {200, 204}
    lane = _lane_of(app)
    assert lane.applied == 100 and lane.groups < lane.applied  # several writes to a transaction
    # Patients are access facts: the marker moved, once per transaction at most
    # (storage/sqlrepo.py write_last), so other processes drop their cached facts
    assert marker < freshness.current(repo) <= marker + lane.groups
    for id in ids[:20]:
        assert repo.read("Patient", id).deleted
    for id in ids[20:]:
        assert repo.read("Patient", id).version_id == 2 and b'"male"' in repo.read("Patient", id).content
    # each write audited once, in the trail's chain, and the chain unbroken
    rows = log.select(repo, log.LogQuery(interactions=["create", "update", "delete"]))
    assert sorted((r["interaction"], r["patient"]) for r in rows) == sorted(
        [("create", id) for id in ids] + [("update", id) for id in ids] + [("delete", id) for id in ids[:20]])
    assert verify(repo).ok


async def test_a_write_that_fails_in_a_group_is_undone_alone(served):
    """In one group: writes that succeed and an update whose If-Match no longer holds (412,
    found only inside the transaction). The 412 leaves nothing behind, not even its audit
    record; the others are written and the audit chain stays whole."""
    app, repo = served
    repo.update({"resourceType": "Patient", "id": "target", "gender": "female"})
    repo.update({"resourceType": "Patient", "id": "target", "gender": "male"})  # now version 2
    async with await _client(app) as client:
        stale = client.put("/fhir/Patient/target", headers={"If-Match": 'W/"1"'},
                           content=orjson.dumps({"resourceType": "Patient", "id": "target", "gender": "other"}))
        bad_id = client.put("/fhir/Patient/other", content=orjson.dumps({"resourceType": "Patient", "id": "x"}))
        others = [client.post("/fhir/Patient", content=_patient(i)) for i in range(10)]
        answers = await asyncio.gather(stale, bad_id, *others)
    assert answers[0].status_code == 412 and answers[0].json()["resourceType"] == "OperationOutcome"
    assert answers[1].status_code == 400  # refused while staged, before any transaction
    assert [r.status_code for r in answers[2:]] == [201] * 10
    target = repo.read("Patient", "target")
    assert target.version_id == 2 and b'"male"' in target.content
    audited = log.select(repo, log.LogQuery(patients=["target"]))
    assert all(r["interaction"] != "update" for r in audited)  # the rolled-back update left no record
    for answer in answers[2:]:
        assert repo.read("Patient", answer.json()["id"]).version_id == 1
    assert verify(repo).ok


async def test_the_lane_answers_as_the_router_does_alone(served):
    """Status, headers and body of staged writes equal those of Router.handle for the same
    requests (Prefer variants, update as create, delete of something missing, _pretty)."""
    app, repo = served
    if repo.backend != "sqlite":
        pytest.skip("the router's code, whatever the backend: compared on a twin SQLite file")
    from ehelse.access.repository import SecuredRepository

    actor = app.state.tokens.verify(app.state.tokens.issue("admin"), "http://testserver/fhir")
    cases = [
        ("PUT", "Patient/same-1", {}, {"resourceType": "Patient", "id": "same-1", "gender": "female"}),
        ("PUT", "Patient/same-1", {"prefer": "return=minimal"}, {"resourceType": "Patient", "id": "same-1"}),
        ("PUT", "Patient/same-1", {"prefer": "return=OperationOutcome"}, {"resourceType": "Patient", "id": "same-1"}),
        ("PUT", "Patient/same-2", {}, {"resourceType": "Patient", "id": "same-2", "birthDate": "not a date"}),
        ("DELETE", "Patient/same-1", {}, None),
        ("DELETE", "Patient/never", {"prefer": "return=OperationOutcome"}, None),
        ("PUT", "Patient/same-1", {"if-match": 'W/"9"'}, {"resourceType": "Patient", "id": "same-1"}),
        ("PATCH", "Patient/same-1", {"content-type": "application/json-patch+json"},
         [{"op": "add", "path": "/gender", "value": "male"}]),
        ("PATCH", "Patient/same-1", {"content-type": "application/json-patch+json", "if-match": 'W/"1"'},
         [{"op": "add", "path": "/gender", "value": "female"}]),
        ("PATCH", "Patient/never", {"content-type": "application/json-patch+json"},
         [{"op": "add", "path": "/gender", "value": "male"}]),
    ]

    def request(method, path, headers, body):
        return FhirRequest(method=method, path=path, headers={**HEADERS, **headers}, actor=actor,
                           body=orjson.dumps(body) if body is not None else b"", request_id="r",
                           base_url="http://testserver/fhir")

    twin = open_repository(f"sqlite:///{repo.path}-twin")
    twin.upgrade()
    router = app.state.router
    try:
        for case in cases:
            alone = router.handle(request(*case), SecuredRepository(twin, actor))
            staged = router.stage_write(request(*case), SecuredRepository(repo, actor))
            try:  # as the lane does: apply and finish, or the router's answer to the failure
                lane = staged.run() if isinstance(staged, Staged) else staged
            except Exception as exc:
                lane = router.failure(request(*case), exc)
            assert (lane.status, _comparable(lane.headers)) == (alone.status, _comparable(alone.headers)), case
            assert _comparable_body(lane) == _comparable_body(alone), case
    finally:
        twin.close()


def _comparable(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in ("last-modified",)}


def _comparable_body(response: FhirResponse):
    body = response.json_bytes(pretty=False)
    if not body:
        return body
    parsed = orjson.loads(body)
    parsed.get("meta", {}).pop("lastUpdated", None)
    return parsed


async def test_when_the_transaction_fails_every_write_in_it_gets_503_and_none_is_written(served, monkeypatch):
    app, repo = served
    real = repo._begin

    @contextmanager
    def commit_fails():
        with real() as conn:
            yield conn
            raise sqlite3.OperationalError("disk I/O error")  # as a COMMIT on a failing disk

    async with await _client(app) as client:
        monkeypatch.setattr(repo, "_begin", commit_fails)
        answers = await asyncio.gather(*(client.put(f"/fhir/Patient/f{i}", content=orjson.dumps(
            {"resourceType": "Patient", "id": f"f{i}"})) for i in range(6)))
        monkeypatch.setattr(repo, "_begin", real)
        assert [r.status_code for r in answers] == [503] * 6
        assert all(r.json()["resourceType"] == "OperationOutcome" for r in answers)
        assert all(repo.read("Patient", f"f{i}") is None for i in range(6))
        again = await client.put("/fhir/Patient/f0", content=orjson.dumps({"resourceType": "Patient", "id": "f0"}))
        assert again.status_code == 201  # the trail went on from what the table holds
    assert verify(repo).ok


def _lane_over(repo, stage):
    from ehelse.audit.trail import trail_for
    from ehelse.fhir.router import Router

    router = Router(Settings.from_env({}, log_level="warning"))
    return WriteLane(stage, lambda: trail_for(repo), router.failure)


async def test_a_savepoint_that_cannot_be_rolled_back_fails_the_whole_group(sqlite_served):
    """A write whose failure also undid the transaction around it (here it rolls back
    itself): the savepoint cannot be rolled back, so no write of the group may count as
    written, and each gets the database's answer."""
    _, repo = sqlite_served
    import threading

    release = threading.Event()

    def stage(request):
        if request.path == "hold":  # keeps the lane busy while the group's three queue up
            release.wait(5)
        if request.path == "bad":
            def wreck():
                repo._local.conn.execute("ROLLBACK")
                raise RuntimeError("broke the transaction")
            return Staged(wreck)
        return Staged(lambda: repo.update({"resourceType": "Patient", "id": request.path}),
                      lambda result: FhirResponse(201 if result[1] else 200))

    lane = _lane_over(repo, stage)
    hold = asyncio.create_task(lane.submit(FhirRequest(method="PUT", path="hold")))
    await asyncio.sleep(0.05)
    group = [asyncio.create_task(lane.submit(FhirRequest(method="PUT", path=p))) for p in ("g1", "bad", "g2")]
    await asyncio.sleep(0.05)
    release.set()
    assert (await hold).status == 201
    answers = await asyncio.gather(*group)
    assert [a.status for a in answers] == [500, 500, 500]
    assert lane.groups == 1  # the held write's; the broken group counts for nothing
    assert repo.read("Patient", "g1") is None and repo.read("Patient", "g2") is None
    assert repo.read("Patient", "hold").version_id == 1


async def test_a_write_cancelled_before_it_is_staged_is_never_written(sqlite_served):
    _, repo = sqlite_served
    import threading

    release = threading.Event()

    def stage(request):
        if request.path == "slow":
            release.wait(5)
        return Staged(lambda: repo.update({"resourceType": "Patient", "id": request.path}),
                      lambda result: FhirResponse(201))

    lane = _lane_over(repo, stage)
    slow = asyncio.create_task(lane.submit(FhirRequest(method="PUT", path="slow")))
    await asyncio.sleep(0.05)  # the lane is staging `slow`
    queued = asyncio.create_task(lane.submit(FhirRequest(method="PUT", path="queued")))
    await asyncio.sleep(0.05)
    queued.cancel()
    await asyncio.sleep(0.05)  # the loop passes the cancellation on before the lane gets to it
    release.set()
    assert (await slow).status == 201
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert repo.read("Patient", "queued") is None


async def test_a_value_the_database_refuses_in_a_group_is_a_400_and_the_others_stand(served):
    """PostgreSQL cannot hold a NUL character in text (here an index row's): inside the
    group that write is undone by its savepoint and answered 400, as alone; SQLite stores it."""
    app, repo = served
    nul = orjson.dumps({"resourceType": "Patient", "id": "nul", "name": [{"family": "nul \u0000 byte"}]})
    async with await _client(app) as client:
        answers = await asyncio.gather(client.put("/fhir/Patient/nul", content=nul),
                                       *(client.post("/fhir/Patient", content=_patient(i)) for i in range(8)))
    refused = repo.backend != "sqlite"
    assert answers[0].status_code == (400 if refused else 201)
    assert (repo.read("Patient", "nul") is None) is refused
    assert [r.status_code for r in answers[1:]] == [201] * 8
    assert all(repo.read("Patient", r.json()["id"]) is not None for r in answers[1:])
    assert verify(repo).ok


@pytest.mark.postgres
def test_two_groups_that_deadlock_on_postgresql_lose_one_write_not_the_groups(pg_url):
    """Two processes' groups (here two repositories with their own pools and lanes) write
    the same two resources in opposite orders: PostgreSQL breaks the deadlock by failing one
    statement; that write alone is undone by its savepoint and answered 409 (retry), and
    every other write of both groups is written."""
    import threading

    from ehelse.web.writes import _Write

    repos = [open_repository(pg_url) for _ in range(2)]
    repos[0].upgrade()
    try:
        for id in ("X", "Y"):
            repos[0].update({"resourceType": "Patient", "id": id})
        both_hold_their_first = threading.Barrier(2, timeout=10)

        def stage_for(repo):
            def stage(request):
                first, second = request.path.split(">")

                def apply():
                    if second == "wait":  # the group's second write starts once both hold a row
                        both_hold_their_first.wait()
                    return repo.update({"resourceType": "Patient", "id": first, "gender": "other"})
                return Staged(apply, lambda result: FhirResponse(200))
            return stage

        lanes = [_lane_over(repo, stage_for(repo)) for repo in repos]
        groups = [[_Write(FhirRequest(method="PUT", path="X>first")), _Write(FhirRequest(method="PUT", path="Y>wait"))],
                  [_Write(FhirRequest(method="PUT", path="Y>first")), _Write(FhirRequest(method="PUT", path="X>wait"))]]
        threads = [threading.Thread(target=lane._group, args=(group,)) for lane, group in zip(lanes, groups)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        answers = [write.future.result(0).status for group in groups for write in group]
        assert sorted(answers) == [200, 200, 200, 409]
        written = [repos[0].read("Patient", id).version_id for id in ("X", "Y")]
        assert sorted(written) == [2, 3]  # one of them got both groups' writes, the other one
        assert verify(repos[0]).ok
    finally:
        for repo in repos:
            repo.close()
