"""The job table and the worker without HTTP: claims are exclusive, a dead worker's job is
taken over after its lease and completes, cancel stops a running job, expired files go, and
the engine's memory stays at a page however many resources it writes."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Iterator

import orjson
import pytest

from ehelse.access.actor import SYSTEM
from ehelse.bulk.engine import ExportRun
from ehelse.bulk.jobs import JobStore
from ehelse.bulk.request import parse
from ehelse.bulk.worker import ExportWorker, job_folder, sweep
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.storage.protocol import ResourceVersion
from ehelse.storage.stamp import now_instant


@pytest.fixture
def sqlite_repo(sqlite_url) -> Iterator:
    repo = open_repository(sqlite_url)
    repo.upgrade()
    for i in range(30):
        repo.create({"resourceType": "Patient", "gender": "female" if i % 2 else "male"})
    yield repo
    repo.close()


def settings(tmp_path: Path, **extra) -> Settings:
    return Settings.from_env({}, export_dir=str(tmp_path / "export"), export_lease=1, **extra)


def queue(repo, **params) -> str:
    request = parse("system", "http://x/fhir/$export", list(params.items()), None)
    job = JobStore(repo).create(SYSTEM, {"export": request.to_json(), "files": "http://x/bulk/files"}, now_instant())
    return job.id


def test_a_claim_is_exclusive_until_its_lease_runs_out(sqlite_repo):
    store = JobStore(sqlite_repo)
    id = queue(sqlite_repo)
    first = store.claim("worker-a", lease=0.5)
    assert first is not None and first.id == id and first.status == "running"
    assert store.claim("worker-b", lease=0.5) is None  # held
    time.sleep(0.6)
    second = store.claim("worker-b", lease=30)  # worker-a died: its lease ran out
    assert second is not None and second.id == id and second.attempts == 2
    assert not store.heartbeat(first, "worker-a", 30, "late")  # the dead worker may not come back


def test_a_dead_workers_job_is_taken_over_and_completes(sqlite_repo, tmp_path):
    config = settings(tmp_path)
    store = JobStore(sqlite_repo)
    id = queue(sqlite_repo)
    assert store.claim("died-mid-job", lease=1).id == id  # claimed, then never heard of again
    worker = ExportWorker(config, lambda: sqlite_repo)
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while (job := store.get(id)).status != "completed" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
        worker.join(5)
    assert job.status == "completed" and job.worker == worker.worker_id
    assert [o["count"] for o in job.manifest["output"] if o["type"] == "Patient"] == [30]
    assert len((job_folder(config, id) / "Patient.ndjson").read_bytes().splitlines()) == 30


def test_cancel_stops_a_running_job_and_removes_its_files(sqlite_repo, tmp_path):
    config = settings(tmp_path)
    store = JobStore(sqlite_repo)
    id = queue(sqlite_repo)
    job = store.claim("w", lease=30)
    store.cancel(id)
    assert not store.heartbeat(job, "w", 30, "page 2")  # the worker learns at its next page
    assert sweep(store, config) == 1 and store.get(id) is None


def test_finished_jobs_expire(sqlite_repo, tmp_path):
    config = settings(tmp_path, export_retention=0)
    worker = ExportWorker(config, lambda: sqlite_repo)
    id = queue(sqlite_repo)
    assert worker.step()
    assert JobStore(sqlite_repo).get(id).status == "completed" and job_folder(config, id).exists()
    assert sweep(JobStore(sqlite_repo), config) == 1
    assert JobStore(sqlite_repo).get(id) is None and not job_folder(config, id).exists()


class ManyObservations:
    """A repository stand-in that streams N generated resources, as iter_current does."""

    def __init__(self, n: int):
        self.n = n

    def types_present(self) -> list[str]:
        return ["Observation"]

    def iter_current(self, type=None) -> Iterator[ResourceVersion]:
        for i in range(self.n):
            body = orjson.dumps({"resourceType": "Observation", "id": f"o{i}", "status": "final",
                                 "code": {"text": "x" * 200}, "subject": {"reference": f"Patient/p{i % 1000}"}})
            yield ResourceVersion("Observation", f"o{i}", 1, "2024-01-01T00:00:00.000000Z", "POST", body)


def test_memory_stays_flat_however_large_the_export(tmp_path):
    def peak(n: int) -> int:
        run = ExportRun(ManyObservations(n), parse("system", "u", [], None), now_instant(), tmp_path / str(n),
                        Settings.from_env({}))
        tracemalloc.start()
        result = run.run()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.total == n
        return top

    small, large = peak(2_000), peak(40_000)
    assert (tmp_path / "40000" / "Observation.ndjson").stat().st_size > 10_000_000
    assert large < small + 256 * 1024, (small, large)  # 20x the resources, not 20x the memory
