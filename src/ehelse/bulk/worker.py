"""The export worker: a thread in each server process that claims jobs from the job table,
runs them outside any request, and deletes files past their retention.

Several processes (on one PostgreSQL database, or one SQLite file) share the work through
the table's claims and leases (jobs.py); a kick-off wakes the workers of its own process at
once (`notify()`), others find the job at their next poll. The thread only starts polling
once its app has opened the database, so building an app (as tests do by the hundred) never
touches a database nor leaves work running.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Callable

from ehelse.bulk.engine import Cancelled, ExportRun, secured
from ehelse.bulk.jobs import Job, JobStore
from ehelse.bulk.request import ExportRequest

log = logging.getLogger("ehelse.bulk")
POLL_SECONDS = 1.0
SWEEP_SECONDS = 30.0
_WAKE = threading.Event()


def notify() -> None:
    """A job was queued in this process: wake its workers now."""
    _WAKE.set()


def job_folder(settings: Any, job_id: str) -> Path:
    return Path(settings.export_dir) / job_id


def manifest(job: Job, result: Any) -> dict[str, Any]:
    """The complete-status body (export.html#response---complete-status)."""
    files = job.request["files"].rstrip("/") + "/" + job.id

    def item(type: str, name: str, count: int) -> dict[str, Any]:
        return {"type": type, "url": f"{files}/{name}", "count": count}

    return {"transactionTime": job.transaction_time, "request": job.request["export"]["url"],
            "requiresAccessToken": True,
            "output": [item(type, name, count) for type, name, count in result.output],
            "deleted": [item("Bundle", name, count) for name, count in result.deleted],
            "error": [item("OperationOutcome", name, count) for name, count in result.error]}


def run_job(repo: Any, settings: Any, store: JobStore, job: Job, worker: str) -> None:
    """Run one claimed job to its end: completed, failed, or stopped (cancelled/taken over)."""
    folder = job_folder(settings, job.id)
    shutil.rmtree(folder, ignore_errors=True)  # a retried job starts clean
    lease = settings.export_lease

    def progress(text: str, resources: int) -> bool:
        return store.heartbeat(job, worker, lease, text)

    try:
        if "viewExport" in job.request:  # $viewdefinition-export shares the job table (analytics/view_export.py)
            from ehelse.analytics.view_export import run_job as run_views

            done = run_views(repo, job, folder, lambda text: progress(text, 0))
        else:
            request = ExportRequest.from_json(job.request["export"])
            run = ExportRun(secured(repo, job.actor), request, job.transaction_time, folder, settings, progress)
            result = run.run()
            done = manifest(job, result)
            log.info("bulk export %s: %d resources", job.id, result.total)
        if not store.complete(job, worker, done, settings.export_retention):
            raise Cancelled()
        log.info("bulk export %s done", job.id)
    except Cancelled:
        current = store.get(job.id)
        if current is None or current.status == "cancelled":
            shutil.rmtree(folder, ignore_errors=True)
        log.info("bulk export %s stopped (cancelled or taken over)", job.id)
    except Exception as exc:  # the job fails, the worker lives on
        log.warning("bulk export %s failed", job.id, exc_info=True)
        store.fail(job, worker, f"{type(exc).__name__}: {exc}", settings.export_retention)


def sweep(store: JobStore, settings: Any) -> int:
    """Delete the files and rows of jobs past their retention (and cancelled ones)."""
    gone = store.expired()
    for id in gone:
        shutil.rmtree(job_folder(settings, id), ignore_errors=True)
        store.forget(id)
    return len(gone)


class ExportWorker(threading.Thread):
    """Claims and runs jobs while its repository is open. `repo_of()` gives the open
    repository or None (not opened yet, or closed); returning False from `alive()` ends it."""

    def __init__(self, settings: Any, repo_of: Callable[[], Any], alive: Callable[[], bool] = lambda: True):
        super().__init__(name="ehelse-bulk-export", daemon=True)
        self.settings = settings
        self.repo_of = repo_of
        self.alive = alive
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self._last_sweep = 0.0

    def stop(self) -> None:
        self.stopping.set()
        _WAKE.set()

    def run(self) -> None:
        while not self.stopping.is_set() and self.alive():
            try:
                worked = self.step()
            except Exception:  # e.g. the database went away: try again later
                log.warning("bulk export worker: step failed", exc_info=True)
                worked = False
            if not worked:
                _WAKE.wait(POLL_SECONDS)
                _WAKE.clear()

    def step(self) -> bool:
        """Run one job if one is waiting; True if it did."""
        repo = self.repo_of()
        if repo is None or not hasattr(repo, "_writing"):
            return False
        store = JobStore(repo)
        if time.monotonic() - self._last_sweep > SWEEP_SECONDS:
            self._last_sweep = time.monotonic()
            sweep(store, self.settings)
        job = store.claim(self.worker_id, self.settings.export_lease)
        if job is None:
            return False
        run_job(repo, self.settings, store, job, self.worker_id)
        return True


def start_for(state: Any) -> ExportWorker | None:
    """The worker of one app (web/app.py's AppState), holding it only weakly."""
    if not state.settings.export_worker:
        return None
    ref = weakref.ref(state)

    def repo_of() -> Any:
        s = ref()
        return getattr(s, "_repo", None) if s is not None else None

    worker = ExportWorker(state.settings, repo_of, alive=lambda: ref() is not None)
    worker.start()
    return worker
