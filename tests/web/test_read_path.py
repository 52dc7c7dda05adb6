"""Reads by id through the whole app (real router, access layer and audit trail), on SQLite
and PostgreSQL: the stored bytes go out as they are, concurrent reads share audit commits
(each still durable before its answer), PostgreSQL's batched fetch (web/reads.py) gives the
same answers as the router alone, and bad input in one read does not harm the others."""

from __future__ import annotations

import asyncio
import re
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from ehelse.audit import log
from ehelse.audit.trail import trail_for
from ehelse.audit.verify import verify
from ehelse.fhir.headers import http_date
from ehelse.nobasis.seed.vocabulary import FNR
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


def _fnr(tag: int, i: int) -> str:
    return f"{(tag * 100 + i) % 10**11:011d}"  # unique per test: the PostgreSQL schema is shared


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'read.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    repo = open_repository(url)
    repo.upgrade()
    tag = random.randrange(10**9)  # pg_url is one schema per module: ids of this test only
    ids = []
    for i in range(40):
        ids.append(repo.update({"resourceType": "Patient", "id": f"p{tag}-{i}", "gender": "female",
                                "identifier": [{"system": FNR, "value": _fnr(tag, i)}],
                                "name": [{"family": f"Navn{i}", "text": "æøå \u2028 \"q\""}]})[0].id)
    repo.update({"resourceType": "Observation", "id": f"o{tag}", "status": "final", "code": {"text": "x"},
                 "valueQuantity": {"value": 1.5, "unit": "kg"}, "subject": {"reference": f"Patient/{ids[0]}"}})
    repo.update({"resourceType": "Patient", "id": f"gone{tag}"})
    repo.delete("Patient", f"gone{tag}")
    app = create_app(Settings.from_env({}, log_level="warning", export_worker=False), repo)
    yield app, repo, ids, tag
    repo.close()


async def _client(app):
    token = app.state.tokens.issue("admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers={"Authorization": f"Bearer {token}"})


async def test_concurrent_reads_send_stored_bytes_and_share_audit_commits(served):
    app, repo, ids, tag = served
    trail = trail_for(repo).outside  # the chain reads join (SQLite: the journal's)
    commits, seq = trail.commits, trail.seq
    async with await _client(app) as client:
        responses = await asyncio.gather(*(client.get(f"/fhir/Patient/{ids[i % 40]}") for i in range(96)))
    for i, response in enumerate(responses):
        stored = repo.read("Patient", ids[i % 40])
        assert response.status_code == 200
        assert response.content == bytes(stored.content)  # not parsed and written again
        assert response.headers["etag"] == f'W/"{stored.version_id}"'
        assert response.headers["last-modified"] == http_date(stored.last_updated)
        assert response.headers["content-type"].startswith("application/fhir+json")
    assert trail.seq - seq == 96  # one record per read
    assert trail.commits - commits < 96  # they shared commits (SQLite: the journal's bulk ingests)
    async with await _client(app) as client:
        metrics = (await client.get("/metrics")).text
    process = trail_for(repo).chain_id  # the trail's own chain names the process
    assert f'ehelse_audit_records_total{{chain="{trail.chain_id}",process="{process}"}} {trail.seq}' in metrics
    # the journal's commits (its ingests) may go on after the scrape
    scraped = re.search(rf'ehelse_audit_commits_total{{chain="{trail.chain_id}",process="{process}"}} (\d+)', metrics)
    assert scraped and int(scraped.group(1)) <= trail.commits
    rows = log.select(repo, log.LogQuery(chain=trail.chain_id, newest_first=False))
    assert {r["patient"] for r in rows[-96:]} == set(ids)
    assert verify(repo).ok


async def test_concurrent_searches_share_audit_commits_and_each_is_durable_before_its_answer(served):
    app, repo, ids, tag = served
    trail = trail_for(repo).outside  # the chain reads join (SQLite: the journal's)
    commits, seq = trail.commits, trail.seq
    async with await _client(app) as client:
        responses = await asyncio.gather(*(client.get("/fhir/Patient", params={"identifier": f"{FNR}|{_fnr(tag, i % 40)}"})
                                           for i in range(64)))
        posted = await client.post("/fhir/Patient/_search", content=f"_id={ids[3]}",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    for i, response in enumerate(responses):
        assert response.status_code == 200
        assert [e["resource"]["id"] for e in response.json()["entry"]] == [ids[i % 40]]
    assert posted.status_code == 200 and posted.json()["entry"][0]["resource"]["id"] == ids[3]
    assert trail.seq - seq == 65  # one record per search, each naming its patient
    # gathered by the loop's group commit: 2-4 commits here; recorded from the worker threads
    # it was 26 (PostgreSQL) to 55 (SQLite). The bound leaves room for a slow machine, where
    # searches that finish further apart share fewer commits.
    assert trail.commits - commits <= 32
    rows = log.select(repo, log.LogQuery(chain=trail.chain_id, newest_first=False))
    assert sorted(r["patient"] for r in rows[-65:]) == sorted([ids[i % 40] for i in range(64)] + [ids[3]])
    assert {r["interaction"] for r in rows[-65:]} == {"search"}
    assert verify(repo).ok


async def test_answers_match_the_router_for_what_is_not_a_plain_read(served):
    app, repo, ids, tag = served
    async with await _client(app) as client:
        obs = await client.get(f"/fhir/Observation/o{tag}")
        assert obs.status_code == 200 and obs.content == bytes(repo.read("Observation", f"o{tag}").content)
        assert (await client.get(f"/fhir/Patient/nope{tag}")).status_code == 404
        gone = await client.get(f"/fhir/Patient/gone{tag}")
        assert gone.status_code == 410 and gone.json()["resourceType"] == "OperationOutcome"
        assert (await client.get(f"/fhir/Patient/{ids[1]}/_history/1")).status_code == 200
        assert (await client.get(f"/fhir/NotAType/{ids[1]}")).status_code == 404
        summary = await client.get(f"/fhir/Patient/{ids[1]}", params={"_elements": "gender"})
        assert summary.status_code == 200 and "name" not in summary.json()
        cached = await client.get(f"/fhir/Patient/{ids[1]}", headers={"If-None-Match": 'W/"1"'})
        assert cached.status_code == 304


async def test_bad_ids_get_4xx_and_do_not_harm_reads_in_the_same_batch(served):
    app, repo, ids, tag = served
    bad = ["a_b", "x" * 65, "%00", "a%00b", "%C3%28", "%E2%80%A8", "a%2Fb", "%27%3B--"]
    async with await _client(app) as client:
        paths = [f"/fhir/Patient/{ids[i]}" for i in range(20)] + [f"/fhir/Patient/{b}" for b in bad]
        random.shuffle(paths)
        responses = await asyncio.gather(*(client.get(p) for p in paths))
    for path, response in zip(paths, responses):
        if path.rsplit("/", 1)[1] in ids:
            assert response.status_code == 200, (path, response.text)
        else:
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
            assert response.json()["resourceType"] == "OperationOutcome"


async def test_citizen_reads_own_record_and_gets_404_for_another(served):
    app, repo, ids, tag = served
    token = app.state.tokens.issue(f"patient:{_fnr(tag, 0)}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        own, other = await asyncio.gather(client.get(f"/fhir/Patient/{ids[0]}"), client.get(f"/fhir/Patient/{ids[1]}"))
    assert own.status_code == 200 and own.json()["id"] == ids[0]
    assert other.status_code == 404
    refused = log.select(repo, log.LogQuery(patients=[ids[1]], outcomes=["4"]))
    assert refused and refused[0]["actor_id"] == _fnr(tag, 0)


def test_http_date_is_the_email_utils_date():
    rng = random.Random(7)
    for _ in range(2000):
        moment = datetime(1971, 1, 1, tzinfo=timezone.utc) + timedelta(
            seconds=rng.randrange(2**31), microseconds=rng.randrange(10**6))
        for instant in (moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), moment.strftime("%Y-%m-%dT%H:%M:%SZ")):
            assert http_date(instant) == format_datetime(moment.replace(microsecond=0), usegmt=True)
    assert http_date("2026-11-27T10:00:00+02:00") == "Fri, 27 Nov 2026 08:00:00 GMT"


async def test_the_read_fast_path_answers_and_audits_as_the_router_does(served, monkeypatch):
    # web/fhir.py answers a plain read by id itself (_read_by_id) and leaves the
    # rest to the router. Each request here goes to the app once with that path and once to
    # one without it (inline_reads=False: the router, in a worker thread): the same status,
    # headers and bytes, and the same audit record, once.
    app, repo, ids, tag = served
    general = create_app(Settings.from_env({}, log_level="warning", export_worker=False), repo)
    general.fhir.inline_reads = False
    answered = []
    real_read = app.fhir._read_by_id

    async def read_by_id(scope, send):
        answered.append(await real_read(scope, send))
        return answered[-1]

    monkeypatch.setattr(app.fhir, "_read_by_id", read_by_id)
    admin = app.state.tokens.issue("admin")
    citizen = app.state.tokens.issue(f"patient:{_fnr(tag, 0)}")
    doctor = app.state.tokens.issue("practitioner:9144900")
    cases = [
        ("admin", admin, f"/fhir/Patient/{ids[2]}", {}),
        ("admin json", admin, f"/fhir/Observation/o{tag}", {"Accept": "application/fhir+json"}),
        ("own", citizen, f"/fhir/Patient/{ids[0]}", {}),
        ("not theirs", citizen, f"/fhir/Patient/{ids[1]}", {}),
        ("personnel, demographics", doctor, f"/fhir/Patient/{ids[1]}", {}),
        ("personnel, no care", doctor, f"/fhir/Observation/o{tag}", {}),
        ("xml", admin, f"/fhir/Patient/{ids[2]}", {"Accept": "application/fhir+xml"}),
        ("no token", None, f"/fhir/Patient/{ids[2]}", {}),
        ("forged", admin[:-4] + "AAAA", f"/fhir/Patient/{ids[2]}", {}),
        ("deleted", admin, f"/fhir/Patient/gone{tag}", {}),
        ("unknown", admin, f"/fhir/Patient/nope{tag}", {}),
        ("cached", admin, f"/fhir/Patient/{ids[2]}", {"If-None-Match": 'W/"1"'}),
        ("two tokens", admin, f"/fhir/Patient/{ids[2]}", {"Authorization": f"Bearer {admin}"}),
    ]

    async def ask(target, token, path, headers):
        sent = dict(headers)
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="http://testserver") as client:
            if "Authorization" in headers and token is not None:  # the header twice
                return await client.get(path, headers=[("Authorization", f"Bearer {token}"),
                                                       ("Authorization", headers["Authorization"])])
            return await client.get(path, headers=sent)

    def records(response):
        rows = log.select(repo, log.LogQuery(newest_first=False))
        return sorted((r["patient"], r["interaction"], r["outcome"], r["actor_id"])
                      for r in rows if r["request_id"] == response.headers["x-request-id"])

    for name, token, path, headers in cases:
        answered.clear()
        fast = await ask(app, token, path, headers)
        took_fast = answered == [True]
        reference = await ask(general, token, path, headers)
        assert fast.status_code == reference.status_code, name
        assert fast.content == reference.content, name
        strip = {"x-request-id"}
        assert ({k: v for k, v in fast.headers.items() if k not in strip}
                == {k: v for k, v in reference.headers.items() if k not in strip}), name
        assert records(fast) == records(reference), name
        assert took_fast == (name in ("admin", "admin json", "own", "personnel, demographics")), name


async def test_an_audit_event_is_read_off_the_loop(served, monkeypatch):
    # Reading the log may first move the audit journals into it (SQLite): a write, which
    # must not hold up the event loop; a read by id of an AuditEvent runs in a worker thread.
    import threading

    from ehelse.audit import journal

    app, repo, ids, tag = served
    moved_on = []
    real = journal.ingest
    monkeypatch.setattr(journal, "ingest", lambda *a: moved_on.append(threading.current_thread().name) or real(*a))
    async with await _client(app) as client:
        assert (await client.get(f"/fhir/Patient/{ids[5]}")).status_code == 200
        found = (await client.get("/fhir/AuditEvent", params={"entity": f"Patient/{ids[5]}"})).json()
        event_id = found["entry"][0]["resource"]["id"]
        moved_on.clear()
        await client.get(f"/fhir/Patient/{ids[5]}")  # something to move again
        event = await client.get(f"/fhir/AuditEvent/{event_id}")
    assert event.status_code == 200 and event.json()["id"] == event_id
    if repo.backend == "sqlite":
        assert moved_on and threading.current_thread().name not in moved_on


async def test_reads_of_one_loop_iteration_share_a_fetch_and_each_record_names_its_request(served):
    # web/reads.py: the reads that arrive together are fetched with one statement and
    # answered in one pass, outside their requests' tasks; each audit record still carries
    # its own request's id (the request's context), and the data leaves only after it.
    app, repo, ids, tag = served
    async with await _client(app) as client:
        await client.get(f"/fhir/Patient/{ids[0]}")  # the loop's batcher exists
        batcher = app.fhir._batchers.for_repo(repo)
        reads, batches = batcher.reads, batcher.batches
        responses = await asyncio.gather(*(client.get(f"/fhir/Patient/{ids[i % 40]}",
                                                      headers={"X-Request-Id": f"req-{tag}-{i}"})
                                           for i in range(64)))
    assert [r.status_code for r in responses] == [200] * 64
    assert batcher.reads - reads == 64
    assert batcher.batches - batches < 64  # shared (ASGITransport: most in a handful of fetches)
    rows = log.select(repo, log.LogQuery(newest_first=False))
    named = {r["request_id"]: r["patient"] for r in rows if r["request_id"].startswith(f"req-{tag}-")}
    assert named == {f"req-{tag}-{i}": ids[i % 40] for i in range(64)}
    for response, i in zip(responses, range(64)):
        assert response.headers["x-request-id"] == f"req-{tag}-{i}"


async def test_a_fault_in_one_read_of_a_batch_is_its_own_500_and_the_others_are_answered(served, monkeypatch):
    from ehelse.access.repository import SecuredRepository

    app, repo, ids, tag = served
    real = SecuredRepository.read

    def read(self, type, id):
        if id == ids[7]:
            raise RuntimeError("a bug in the access layer")
        return real(self, type, id)

    monkeypatch.setattr(SecuredRepository, "read", read)
    async with await _client(app) as client:
        await client.get(f"/fhir/Patient/{ids[0]}")
        batcher = app.fhir._batchers.for_repo(repo)
        batches = batcher.batches
        paths = [f"/fhir/Patient/{ids[i]}" for i in range(12)]
        responses = await asyncio.gather(*(client.get(p) for p in paths))
        assert batcher.batches - batches < 12  # the faulty read shared a batch with others
        after = await client.get(f"/fhir/Patient/{ids[3]}")  # the loop goes on
    for i, response in enumerate(responses):
        if i == 7:
            assert response.status_code == 500 and response.json()["resourceType"] == "OperationOutcome"
            assert "a bug" not in response.text  # no internals leave
        else:
            assert response.status_code == 200 and response.json()["id"] == ids[i]
    assert after.status_code == 200
