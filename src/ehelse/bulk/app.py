"""Status polling, cancel and file download of Bulk Data exports, mounted at /bulk.

    GET    /bulk/status/{job}          202 + X-Progress, Retry-After while it runs; 200 + the
                                       manifest when done; 500 + OperationOutcome if it failed
    DELETE /bulk/status/{job}          cancel (202); afterwards the status is 404
    GET    /bulk/files/{job}/{file}    one NDJSON output file, streamed

Spec: https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-status-request,
#bulk-data-delete-request, #file-request. Every request carries the bearer token of the
actor who asked for the export (requiresAccessToken: true); anyone else gets 404, as if
the job did not exist. These live beside /fhir rather than under it: the FHIR router
answers FHIR interactions, and these need DELETE on a URL and raw NDJSON bodies.
"""

from __future__ import annotations

import re
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ehelse.bulk.jobs import Job, JobStore
from ehelse.bulk.worker import job_folder, start_for
from ehelse.errors import FhirError, NotFound, Unauthorized, operation_outcome
from ehelse.access.tokens import missing_token

NDJSON = "application/fhir+ndjson"
RETRY_AFTER = "2"
_FILE = re.compile(r"^[A-Za-z0-9_-]+\.(ndjson|csv|parquet)$")  # parquet/csv: $viewdefinition-export
MEDIA = {"ndjson": NDJSON, "csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _error(error: FhirError) -> Response:
    return JSONResponse(error.outcome(), status_code=error.status, media_type="application/fhir+json",
                        headers={"Cache-Control": "no-store", **error.headers})


class BulkApp:
    def __init__(self, state: Any):
        self.state = state
        self.app = Starlette(routes=[
            Route("/bulk/status/{job}", self.status, methods=["GET", "DELETE"]),
            Route("/bulk/files/{job}/{name}", self.file, methods=["GET"]),
        ])

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app({**scope, "root_path": ""}, receive, send)

    # -- the caller and their job -------------------------------------------------------------
    def _fhir_base(self, request: Request) -> str:
        configured = self.state.settings.base_url
        if configured:
            return configured.rstrip("/") + "/fhir"
        return f"{request.url.scheme}://{request.url.netloc}/fhir"

    def _job(self, request: Request) -> tuple[JobStore, Job]:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise missing_token()
        actor = self.state.tokens.verify(token.strip(), self._fhir_base(request))
        store = JobStore(self.state.repo)
        job = store.get(request.path_params["job"][:64])
        if job is None or job.status == "cancelled" or not job.owned_by(actor):
            raise NotFound("No such export job (it may have been cancelled or expired)")
        return store, job

    # -- routes -------------------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        try:
            return await anyio.to_thread.run_sync(self._status, request)
        except FhirError as error:
            return _error(error)

    def _status(self, request: Request) -> Response:
        store, job = self._job(request)
        if request.method == "DELETE":  # export.html#bulk-data-delete-request
            store.cancel(job.id)
            return JSONResponse(operation_outcome([]), status_code=202, media_type="application/fhir+json")
        if job.status in ("accepted", "running"):
            progress = job.progress or ("queued" if job.status == "accepted" else "started")
            return Response(status_code=202, headers={"X-Progress": progress[:100], "Retry-After": RETRY_AFTER,
                                                      "Cache-Control": "no-store"})
        if job.status == "failed":
            return JSONResponse(operation_outcome([_issue(f"The export failed: {job.error}")]), status_code=500,
                                media_type="application/fhir+json")
        return JSONResponse(job.manifest, headers={"Cache-Control": "no-store",
                                                   "Expires": _http_date(job.expires)})

    async def file(self, request: Request) -> Response:
        try:
            _, job = await anyio.to_thread.run_sync(self._job, request)
        except FhirError as error:
            return _error(error)
        name = request.path_params["name"]
        listed = {item["url"].rsplit("/", 1)[-1] for key in ("output", "deleted", "error")
                  for item in (job.manifest or {}).get(key, [])}
        path = job_folder(self.state.settings, job.id) / name
        if job.status != "completed" or not _FILE.match(name) or name not in listed or not path.is_file():
            return _error(NotFound(f"No file {name[:80]} in this export"))
        # Streamed from disk in chunks: a file of any size costs a chunk of memory.
        media = NDJSON if "viewExport" not in job.request else MEDIA[name.rsplit(".", 1)[1]]
        return FileResponse(path, media_type=media, headers={"Cache-Control": "no-store"})


def _issue(text: str) -> Any:
    from ehelse.errors import Issue

    return Issue("error", "exception", text)


def _http_date(epoch: float) -> str:
    from email.utils import formatdate

    return formatdate(epoch, usegmt=True)


def install(app: Any) -> None:
    """Mount /bulk and start this process's export worker (web/app.py)."""
    app.mount("/bulk", BulkApp(app.state))
    app.state.bulk_worker = start_for(app.state)
