"""Bulk Data export jobs shared by two server processes on one PostgreSQL database
(bulk/jobs.py: claims with FOR UPDATE SKIP LOCKED, leases): both processes claim work, every
job completes exactly once, and a job whose server is SIGKILLed mid-run (claimed, status
running, not yet complete) is taken over and finished by the other process."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from bulk.conftest import start_server, token

pytestmark = pytest.mark.postgres
LEASE = "2"


@pytest.fixture(scope="module")
def pg_seeded(pg_url: str) -> Iterator[Any]:
    from ehelse.nobasis.seed import seed
    from ehelse.storage import open_repository

    repo = open_repository(pg_url)
    repo.upgrade()
    seed(repo, patients=20, seed=1, validate_every=0)
    yield repo
    repo.close()


def _jobs(repo: Any) -> list[tuple]:
    with repo._reading() as conn:
        return repo._exec(conn, "SELECT id, status, worker, attempts FROM bulk_job ORDER BY created").fetchall()


def _wait(url: str, bearer: str, limit: float = 45) -> httpx.Response:
    deadline = time.monotonic() + limit
    while True:
        poll = httpx.get(url, headers={"authorization": f"Bearer {bearer}"}, timeout=30)
        if poll.status_code != 202 or time.monotonic() > deadline:
            return poll
        time.sleep(0.3)


def _kick(server: Any, bearer: str, **params: str) -> str:
    r = httpx.get(f"{server.fhir}/$export", params=params, timeout=30,
                  headers={"authorization": f"Bearer {bearer}", "prefer": "respond-async"})
    assert r.status_code == 202, r.text
    return httpx.URL(r.headers["content-location"]).path


def test_two_servers_share_the_jobs_and_each_completes_once(pg_seeded, pg_url, tmp_path):
    admin = token(pg_seeded, "admin")
    servers = [start_server(pg_url, tmp_path / "export", EHELSE_EXPORT_LEASE=LEASE) for _ in range(2)]
    try:
        paths = [_kick(servers[i % 2], admin, _type="Patient,Observation,Encounter") for i in range(6)]
        for i, path in enumerate(paths):  # any server answers for any job: the state is in the database
            poll = _wait(servers[(i + 1) % 2].url + path, admin)
            assert poll.status_code == 200, poll.text
            assert {o["type"] for o in poll.json()["output"]} == {"Patient", "Observation", "Encounter"}
        rows = _jobs(pg_seeded)
        assert len(rows) == 6 and {r[1] for r in rows} == {"completed"}
        assert all(r[3] == 1 for r in rows)  # claimed once each: no job ran twice
        processes = {r[2].rsplit(":", 1)[0] for r in rows}  # host:pid of the claiming worker
        assert len(processes) == 2, rows  # both server processes did work
    finally:
        for server in servers:
            server.stop()


def test_a_job_killed_mid_run_is_finished_by_the_other_server(pg_seeded, pg_url, tmp_path):
    admin = token(pg_seeded, "admin")
    first = start_server(pg_url, tmp_path / "export", EHELSE_EXPORT_LEASE=LEASE)
    second = None
    try:
        caught = None
        for _attempt in range(3):  # catch the job between two pages; a fast machine may need a retry
            # _elements makes the worker parse and rewrite every resource: slower, many pages
            path = _kick(first, admin, _elements="id,status,subject")
            job_id = path.rsplit("/", 1)[1]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                row = next(r for r in _jobs(pg_seeded) if r[0] == job_id)
                if row[1] != "accepted":
                    break
                time.sleep(0.005)
            if row[1] == "running":  # claimed and not finished: the worker is inside the run
                first.stop(kill=True)
                caught = (job_id, path, row[2])
                break
        assert caught, "the export finished before it could be caught mid-run three times"
        job_id, path, dead_worker = caught
        second = start_server(pg_url, tmp_path / "export", EHELSE_EXPORT_LEASE=LEASE)
        poll = _wait(second.url + path, admin)
        assert poll.status_code == 200, poll.text
        manifest = poll.json()
        assert sum(o["count"] for o in manifest["output"]) > 0
        _id, status, worker, attempts = next(r for r in _jobs(pg_seeded) if r[0] == job_id)
        assert status == "completed" and attempts == 2 and worker != dead_worker  # taken over, finished once
        patients = next(o for o in manifest["output"] if o["type"] == "Patient")
        file = httpx.get(second.url + httpx.URL(patients["url"]).path, headers={"authorization": f"Bearer {admin}"})
        assert file.status_code == 200 and file.text.count("\n") == patients["count"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
