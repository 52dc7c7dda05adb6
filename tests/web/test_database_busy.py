"""A database that cannot take a request now (storage/unavailable.py): over HTTP the answer
is a 503 OperationOutcome (`transient`, Retry-After), never a 500, nothing is half-written,
and the same requests succeed once the database is free again.

The SQLite write lock is held by another program's connection (BEGIN IMMEDIATE, as a
`sqlite3` shell or a backup would), past the repository's busy timeout (shortened here)."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from ehelse.audit import log
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.storage.sqlite import repository as sqlite_repository
from ehelse.web.app import create_app

BOUND = 60


@pytest.fixture
def world(tmp_path, monkeypatch):
    """(app, repository, a function that holds the write lock from another connection)."""
    monkeypatch.setattr(sqlite_repository, "_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "busy.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    repo.upgrade()
    repo.update({"resourceType": "Patient", "id": "kjent", "name": [{"family": "Kjent"}]})
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False, validate=False), repo)
    app.state.admin_token = app.state.tokens.issue("admin")  # the signing key is written now, before any lock
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    yield app, repo, holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()
    repo.close()


def _run(app, requests):
    async def go():
        token = app.state.admin_token
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            return [await asyncio.wait_for(client.request(method, url, json=body), BOUND)
                    for method, url, body in requests]

    return asyncio.run(go())


def _is_busy(response: httpx.Response) -> bool:
    outcome = response.json()
    return (response.status_code == 503 and outcome["resourceType"] == "OperationOutcome"
            and outcome["issue"][0]["code"] == "transient" and response.headers["retry-after"].isdigit())


PATIENT = {"resourceType": "Patient", "name": [{"family": "Ny"}]}
WRITES = [
    ("POST", "/fhir/Patient", PATIENT),
    ("PUT", "/fhir/Patient/kjent", {"resourceType": "Patient", "id": "kjent", "name": [{"family": "Endret"}]}),
    ("PUT", "/fhir/Patient/ny-med-id", {"resourceType": "Patient", "id": "ny-med-id"}),
    ("DELETE", "/fhir/Patient/kjent", None),
    ("POST", "/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b6e2f3c-0000-4000-8000-000000000001", "resource": PATIENT,
         "request": {"method": "POST", "url": "Patient"}}]}),
]


def test_writes_while_another_program_holds_the_write_lock_are_503_and_change_nothing(world):
    app, repo, holder = world
    holder.execute("BEGIN IMMEDIATE")
    answers = _run(app, WRITES)
    assert [r.status_code for r in answers] == [503] * len(WRITES), [r.text[:300] for r in answers]
    assert all(_is_busy(r) for r in answers)
    holder.execute("ROLLBACK")
    assert repo.read("Patient", "kjent").version_id == 1  # nothing half-written
    assert repo.read("Patient", "ny-med-id") is None
    again = _run(app, WRITES)
    assert [r.status_code for r in again] == [201, 200, 201, 204, 200]


def test_a_batch_reports_each_entry_the_database_could_not_take(world):
    # Entries are independent in a batch (http.html#transaction): each gets its own 503
    # outcome and the batch itself is answered (200, batch-response). The read too: its
    # audit record cannot be written, and no data leaves without it.
    app, repo, holder = world
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": PATIENT, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/kjent"}},
    ]}
    holder.execute("BEGIN IMMEDIATE")
    [answer] = _run(app, [("POST", "/fhir", batch)])
    holder.execute("ROLLBACK")
    assert answer.status_code == 200, answer.text[:500]
    entries = answer.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["503 Service Unavailable"] * 2
    assert all(e["response"]["outcome"]["issue"][0]["code"] == "transient" for e in entries)
    assert "Kjent" not in answer.text
    assert holder.execute("SELECT count(*) FROM resource WHERE type = 'Patient'").fetchone() == (1,)
    [again] = _run(app, [("POST", "/fhir", batch)])
    assert [e["response"]["status"][:3] for e in again.json()["entry"]] == ["201", "200"]


def test_reads_are_answered_while_the_write_lock_is_held_and_audited(world):
    # WAL: the read itself never waits for a writer, and its audit record goes to this
    # process's journal (audit/journal.py), not through the write lock: durable before the
    # answer all the same (access.md, "Durability before data"). The log shows both reads
    # once the lock is let go; asked while it is held, the log's reader gets the 503 itself.
    app, repo, holder = world
    holder.execute("BEGIN IMMEDIATE")
    answers = _run(app, [("GET", "/fhir/Patient/kjent", None), ("GET", "/fhir/Patient?family=Kjent", None),
                         ("GET", "/fhir/AuditEvent", None)])
    holder.execute("ROLLBACK")
    assert [r.status_code for r in answers[:2]] == [200, 200] and all("Kjent" in r.text for r in answers[:2])
    assert _is_busy(answers[2])
    rows = log.select(repo, log.LogQuery(patients=["kjent"]))
    assert sorted(r["interaction"] for r in rows) == ["read", "search"]


# A token whose key cannot be looked up: checking it needs the database at once.
UNKNOWN_KEY_TOKEN = "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.c2ln"


def _app_without_postgres():
    """The app on a PostgreSQL URL where nothing listens (port 1): opening the repository, or
    a connection of its pool, fails (psycopg OperationalError or the pool's timeout)."""
    url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False, validate=False,
                                       database_url=url))
    app.state._repo_options = {"connect_timeout": 1.0}
    return app


@pytest.mark.postgres
def test_fhir_requests_while_postgres_is_down_are_503_not_500():
    # Nothing listens on port 1: opening the repository, or a connection of its pool, fails
    # (psycopg OperationalError or the pool's timeout), and whatever the request was, the
    # answer is the 503 (the token cannot even be checked: its key is in the database).
    app = _app_without_postgres()
    app.state.admin_token = UNKNOWN_KEY_TOKEN
    answers = _run(app, [("GET", "/fhir/Patient/kjent", None), ("POST", "/fhir/Patient", PATIENT)])
    assert [r.status_code for r in answers] == [503, 503], [r.text[:300] for r in answers]
    assert all(_is_busy(r) for r in answers)


@pytest.mark.postgres
def test_portal_pages_while_postgres_is_down_are_a_503_page_not_json():
    # A person in a browser gets a page, in bokmål first and English second, with the same
    # 503 and Retry-After; the FHIR API keeps answering OperationOutcome whatever the Accept.
    app = _app_without_postgres()

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}) as client:
            page = await asyncio.wait_for(client.get("/strategi"), BOUND)
            # a token whose key cannot be looked up: the database is needed at once
            api = await asyncio.wait_for(client.get("/fhir/Patient/kjent", headers={
                "Authorization": f"Bearer {UNKNOWN_KEY_TOKEN}"}), BOUND)
            return page, api

    page, api = asyncio.run(go())
    assert page.status_code == 503 and page.headers["retry-after"].isdigit()
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="nb">' in page.text and "midlertidig utilgjengelig" in page.text
    assert '<section lang="en"' in page.text and page.headers["x-request-id"] in page.text
    assert "OperationalError" not in page.text and "127.0.0.1" not in page.text  # no internals
    assert api.status_code == 503 and _is_busy(api)
