"""Searches the event loop tries itself on SQLite (web/fhir.py `_try_inline`, storage/budget.py),
through the whole app: a selective search is answered on the loop, audited before its answer;
one that runs past the read budget is answered from a worker thread instead, audited once
(the loop's try leaves nothing behind), and after SLOW_SHAPE_STRIKES such tries its shape
goes to a thread straight away; what the loop never tries goes to a thread."""

from __future__ import annotations

import threading

import httpx
import pytest

from ehelse.audit import log
from ehelse.audit.trail import trail_for
from ehelse.fhir.request import FhirRequest
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.storage.sqlite import repository as sqlite_module
from ehelse.web import fhir as web_fhir
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
def served(tmp_path):
    repo = open_repository(f"sqlite:///{tmp_path / 'inline.sqlite'}")
    repo.upgrade()
    for i in range(30):
        repo.update({"resourceType": "Patient", "id": f"p{i}", "gender": "female" if i % 2 else "male",
                     "name": [{"family": f"Navn{i}"}]})
        repo.update({"resourceType": "Observation", "id": f"o{i}", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient/p{i}"}})
    app = create_app(Settings.from_env({}, log_level="warning", export_worker=False), repo)
    yield app, repo
    repo.close()


def _threads_of(app) -> list[str]:
    seen: list[str] = []
    router = app.state.router
    handle = router.handle

    def spy(request, repo, *args):
        seen.append(threading.current_thread().name)
        return handle(request, repo, *args)

    router.handle = spy
    return seen


async def _client(app):
    token = app.state.tokens.issue("admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers={"Authorization": f"Bearer {token}"})


async def test_a_selective_search_is_answered_on_the_loop_and_audited_before_its_answer(served, monkeypatch):
    app, repo = served
    # A generous budget: a test process's first searches pay for cold imports and statements
    # and may run past 3 ms (they would then be answered from a thread: the next test).
    monkeypatch.setattr(web_fhir, "INLINE_SEARCH_SECONDS", 60.0)
    trail = trail_for(repo).outside  # the chain reads join (SQLite: the journal's)
    seq = trail.seq
    seen = _threads_of(app)
    async with await _client(app) as client:
        response = await client.get("/fhir/Observation", params={"patient": "p3"})
        compartment = await client.get("/fhir/Patient/p4/Observation")
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["o3"]
    assert [e["resource"]["id"] for e in compartment.json()["entry"]] == ["o4"]
    assert seen == [threading.current_thread().name] * 2  # the loop's own thread, no hand-over
    assert trail.seq - seq == 2
    rows = log.select(repo, log.LogQuery(chain=trail.chain_id, newest_first=False))
    assert [(r["patient"], r["interaction"]) for r in rows[-2:]] == [("p3", "search"), ("p4", "search")]


async def test_a_search_past_its_budget_is_answered_from_a_thread_and_audited_once(served, monkeypatch):
    app, repo = served
    monkeypatch.setattr(web_fhir, "INLINE_SEARCH_SECONDS", -1.0)  # spent before it starts
    monkeypatch.setattr(sqlite_module, "STEPS_PER_CHECK", 1)  # and checked at every step
    trail = trail_for(repo).outside  # the chain reads join (SQLite: the journal's)
    seq = trail.seq
    seen = _threads_of(app)
    loop_thread = threading.current_thread().name
    async with await _client(app) as client:
        answers = [await client.get("/fhir/Observation", params={"patient": f"p{i}"})
                   for i in range(web_fhir.SLOW_SHAPE_STRIKES + 1)]
    for i, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        assert [e["resource"]["id"] for e in answer.json()["entry"]] == [f"o{i}"]
    strikes = web_fhir.SLOW_SHAPE_STRIKES
    # Each of the first `strikes` searches: tried on the loop, then run in a worker thread.
    assert seen[:2 * strikes:2] == [loop_thread] * strikes
    assert all(name.startswith("fhir") for name in seen[1:2 * strikes:2])
    # Then the shape goes to a thread without trying the loop first.
    assert len(seen) == 2 * strikes + 1 and seen[-1].startswith("fhir")
    # One audit record per search: the loop's abandoned tries recorded nothing.
    assert trail.seq - seq == strikes + 1
    rows = log.select(repo, log.LogQuery(chain=trail.chain_id, newest_first=False))
    assert sorted(r["patient"] for r in rows[-(strikes + 1):]) == [f"p{i}" for i in range(strikes + 1)]


async def test_a_slow_shape_is_tried_on_the_loop_again_once_its_time_is_up(served, monkeypatch):
    app, repo = served
    monkeypatch.setattr(web_fhir, "INLINE_SEARCH_SECONDS", -1.0)
    monkeypatch.setattr(sqlite_module, "STEPS_PER_CHECK", 1)
    monkeypatch.setattr(web_fhir, "SLOW_SHAPE_SECONDS", 0.0)
    seen = _threads_of(app)
    async with await _client(app) as client:
        for i in range(web_fhir.SLOW_SHAPE_STRIKES + 1):
            assert (await client.get("/fhir/Observation", params={"patient": f"p{i}"})).status_code == 200
    assert seen[-2] == threading.current_thread().name  # tried on the loop again, and ran past it again
    assert seen[-1].startswith("fhir")


@pytest.mark.parametrize("overrun", [False, True])
async def test_a_refused_search_is_audited_once_on_the_loop_or_after_it(served, monkeypatch, overrun):
    """Health personnel without a care relationship naming a patient: 403 (access.md), and
    exactly one denied record in the log when the answer comes, whether the loop answered
    or ran past its budget and left it to a worker thread."""
    app, repo = served
    if overrun:
        monkeypatch.setattr(web_fhir, "INLINE_SEARCH_SECONDS", -1.0)
        monkeypatch.setattr(sqlite_module, "STEPS_PER_CHECK", 1)
    else:
        monkeypatch.setattr(web_fhir, "INLINE_SEARCH_SECONDS", 60.0)
    token = app.state.tokens.issue("practitioner:9144900", organization="974703300")
    trail = trail_for(repo).outside  # the chain reads join (SQLite: the journal's)
    seq = trail.seq
    seen = _threads_of(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        refused = await client.get("/fhir/Observation", params={"patient": "p5"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    if overrun:  # the loop's try stopped (before or inside the router); a thread answered
        assert seen[-1].startswith("fhir") and len(seen) <= 2
    else:
        assert seen == [threading.current_thread().name]
    assert trail.seq - seq == 1
    row = log.select(repo, log.LogQuery(chain=trail.chain_id))[0]
    assert (row["patient"], row["actor_id"], row["interaction"]) == ("p5", "9144900", "search")
    assert row["outcome"] != "0"


def _request(path: str, query: list[tuple[str, str]], method: str = "GET") -> FhirRequest:
    return FhirRequest(method=method, path=path, query=query, headers={}, body=b"", base_url="http://x/fhir")


@pytest.mark.parametrize(("path", "query", "method", "shape"), [
    ("Observation", [("patient", "1"), ("code", "x")], "GET", ("Observation", "patient", "code")),
    ("Patient/123/Observation", [("_count", "20")], "GET", ("Patient", "*", "Observation", "_count")),
    ("Observation/_search", [("patient", "1")], "POST", ("Observation", "patient")),
    ("MedicationRequest", [("_include", "MedicationRequest:requester")], "GET",
     ("MedicationRequest", "_include")),
    ("Observation", [("_total", "accurate")], "GET", None),
    ("Observation", [("_summary", "count")], "GET", None),
    ("Observation", [("_include:iterate", "Observation:subject")], "GET", None),
    ("Observation", [("_revinclude:iterate", "Provenance:target")], "GET", None),
    ("Observation", [("_count", "1000")], "GET", None),
    ("Observation", [("_count", "x")], "GET", None),
    ("Observation", [("patient.name", "x"), ("_has:Provenance:target:agent", "y")], "GET",
     ("Observation", "patient.name", "_has:Provenance:target:agent")),
    ("Observation", [("code:in", "http://x/vs")], "GET", None),
    ("Observation", [("code:below", "http://snomed.info/sct|1")], "GET", None),
    ("Observation", [("subject:Patient.name:text", "x")], "GET", None),
    ("Patient", [("_has:Observation:patient:code:not-in", "http://x/vs")], "GET", None),
    ("DocumentReference", [("_content", "hjerte")], "GET", None),
    ("Patient", [("_has:DocumentReference:patient:_text", "x")], "GET", None),
    ("Observation", [("_id", ",".join(str(i) for i in range(2000)))], "GET", None),
    ("Patient/123/$everything", [], "GET", None),
    ("Observation/_history", [], "GET", None),
    ("", [("_type", "Observation")], "GET", None),
    ("NotAType", [("x", "1")], "GET", None),
    ("Patient/a_b/Observation", [], "GET", None),  # not an id (datatypes.html#id)
    ("Observation", [], "POST", None),
])
def test_which_queries_the_loop_tries(path, query, method, shape):
    assert web_fhir._inline_shape(_request(path, query, method)) == shape
