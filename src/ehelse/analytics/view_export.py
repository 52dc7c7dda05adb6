"""$viewdefinition-export: run one or more ViewDefinitions asynchronously into files.

Spec: SQL on FHIR v2, OperationDefinition ViewDefinitionExport
(https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/OperationDefinition-ViewDefinitionExport.html):
`[base]/$viewdefinition-export` (and `ViewDefinition/$viewdefinition-export`,
`ViewDefinition/{library name}/$viewdefinition-export`), parameters `view` (1..*, parts `name`,
`viewReference`, `viewResource`), `clientTrackingId`, `_format` (ndjson | csv | parquet),
`header`, `patient`, `group`, `_since`; our extension: `pseudonymise` (boolean) with `project`
(string) for a research extract keyed per project (analytics/pseudonymise.py).

It follows the FHIR asynchronous pattern as Bulk Data export does, and reuses its machinery
rather than a second job system: the kick-off inserts a row in the `bulk_job` table with
`request.viewExport` (bulk/jobs.py), the bulk worker claims it and calls `run_job` below
(bulk/worker.py), and /bulk/status/{job} and /bulk/files/{job}/{file} (bulk/app.py) poll,
cancel and serve the files with the requester's token. The manifest has one output per view:
`{name, type: "ViewDefinition", format, url, count}`.

Access and audit as for $viewdefinition-run: the views read through the requester's
SecuredRepository (their scopes and access rules; each patient read is audited there), and
`audit_run` records one run event per view (who, which view, purpose, engine, rows).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from ehelse.errors import BadRequest, Forbidden, NotFound

FORMATS = {"ndjson": "ndjson", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson",
           "csv": "csv", "text/csv": "csv", "parquet": "parquet", "application/vnd.apache.parquet": "parquet"}
_NAME = re.compile(r"[^A-Za-z0-9_-]+")
MAX_VIEWS = 20


def _parts(parameter: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parameter.get("part") or []:
        value = part.get("resource")
        if value is None:
            value = next((v for k, v in part.items() if k.startswith("value")), None)
        out[part.get("name")] = value
    return out


def _view_parameters(ctx: Any, body: Any, id: str | None) -> list[dict[str, Any]]:
    """The `view` repetitions as [{name, viewReference, viewResource}]."""
    views: list[dict[str, Any]] = []
    if id is not None:  # instance level: the library view the URL names
        views.append({"viewReference": {"reference": f"ViewDefinition/{id}"}})
    if isinstance(body, dict):
        if body.get("resourceType") != "Parameters":
            raise BadRequest("$viewdefinition-export takes a Parameters resource")
        views += [_parts(p) for p in body.get("parameter") or [] if p.get("name") == "view"]
    for key, value in ctx.request.query:  # GET form: view=ViewDefinition/<name>
        if key in ("view", "viewReference"):
            views.append({"viewReference": {"reference": value}})
    if not views:
        raise BadRequest("$viewdefinition-export needs at least one view parameter", code="required",
                         expression="view")
    if len(views) > MAX_VIEWS:
        raise BadRequest(f"At most {MAX_VIEWS} views per export")
    return views


def kickoff(ctx: Any, type: str | None, id: str | None, parameters: Any) -> Any:
    """The kick-off request: 202 + Content-Location (the Bulk Data status URL)."""
    from ehelse.bulk.jobs import JobStore
    from ehelse.bulk.kickoff import EXPORTERS, status_base
    from ehelse.bulk.request import parse as parse_export
    from ehelse.bulk.worker import notify
    from ehelse.fhir.operations.viewdefinition import _integer, _one, _parameters, _patients, _view
    from ehelse.analytics.audit import audit_run
    from ehelse.analytics.viewdefinition import parse_view
    from ehelse.fhir.request import FhirResponse
    from ehelse.storage.stamp import now_instant

    if type not in (None, "ViewDefinition"):
        raise NotFound(f"$viewdefinition-export is not defined on {type}", code="not-supported")
    request = ctx.request
    if "respond-async" not in (request.header("prefer") or "").lower():
        raise BadRequest("$viewdefinition-export is asynchronous: send Prefer: respond-async", code="required",
                         expression="Prefer")
    actor = request.actor
    if actor is None or actor.kind not in EXPORTERS:  # as for Bulk Data $export (bulk/kickoff.py)
        raise Forbidden("$viewdefinition-export is for system clients (SMART Backend Services) and administrators",
                        code="forbidden")
    body = parameters if isinstance(parameters, dict) else None
    flat = _parameters(ctx, {"resourceType": "Parameters", "parameter": [
        p for p in (body or {}).get("parameter") or [] if p.get("name") != "view"]})
    fmt = FORMATS.get(str(_one(flat, "_format") or "ndjson").lower())
    if fmt is None:
        raise BadRequest("_format: use ndjson, csv or parquet", code="not-supported", expression="_format")
    header = str(_one(flat, "header") if _one(flat, "header") is not None else "true").lower() != "false"
    since = _one(flat, "_since")
    if since is not None:  # the same instant check and normalisation as Bulk Data's _since
        since = parse_export("system", "", [("_since", str(since))], None).since
    pseudonymise = str(_one(flat, "pseudonymise") or "false").lower() == "true"
    project = str(_one(flat, "project") or "").strip()[:60]
    if pseudonymise and not project:
        raise BadRequest("pseudonymise needs a project (its key keeps pseudonyms unlinkable across projects)",
                         code="required", expression="project")
    _integer(_one(flat, "_limit"), "_limit")  # not in the export definition, but never a 500
    patients = _patients(ctx, flat)  # group members resolved now, under the caller's access rules
    views, names = [], set()
    for item in _view_parameters(ctx, body, id):
        raw = _view(ctx, {k: [v] for k, v in item.items() if k in ("viewReference", "viewResource") and v}, None)
        view = parse_view(raw)  # an invalid view is a 400 now, not a failed job later
        resource_type = raw.get("resource") if isinstance(raw, dict) else None
        if actor.kind != "admin" and not ctx.repo.view.scopes.allows(str(resource_type), "search",
                                                                     contexts=("system",)):
            # refused at kick-off, as $export does, rather than a job that fails later
            raise Forbidden(f"The token's scopes do not allow export of {resource_type}", code="forbidden")
        name = _NAME.sub("_", str(item.get("name") or view.name or f"view{len(views) + 1}"))[:60] or "view"
        while name in names:
            name += "_"
        names.add(name)
        views.append({"name": name, "view": raw})
    url = f"{request.base_url}/{request.path}" + (f"?{urlencode(request.query)}" if request.query else "")
    job_request = {"viewExport": {"url": url, "views": views, "format": fmt, "header": header, "since": since,
                                  "patients": sorted(patients) if patients is not None else None,
                                  "clientTrackingId": _one(flat, "clientTrackingId"),
                                  "pseudonymise": pseudonymise, "project": project},
                   "files": f"{status_base(request.base_url)}/files"}
    job = JobStore(ctx.repo).create(actor, job_request, now_instant())
    inner = getattr(ctx.repo, "inner", ctx.repo)
    for item in views:
        audit_run(actor, item["view"], (), None, repo=inner, engine=f"export {job.id} requested", rows=0)
    notify()
    return FhirResponse(202, resource=None, interaction="operation",
                        headers={"Content-Location": f"{status_base(request.base_url)}/status/{job.id}"})


def run_job(repo: Any, job: Any, folder: Path, progress: Callable[[str], bool]) -> dict[str, Any]:
    """Run every view of the job into `folder`; returns the manifest. `progress` returns
    False when the job was cancelled or taken over (then Cancelled is raised)."""
    from ehelse.analytics.audit import audit_run
    from ehelse.analytics.engines import run as run_engine
    from ehelse.analytics.output import write
    from ehelse.analytics.pseudonymise import Pseudonymiser, PseudonymisedSource
    from ehelse.analytics.sources import RepositorySource
    from ehelse.analytics.viewdefinition import parse_view
    from ehelse.bulk.engine import Cancelled, secured
    from ehelse.oauth.store import MemoryStore, SqlStore

    asked = job.request["viewExport"]
    actor = job.actor
    secure = secured(repo, actor)  # the requester's scopes and access rules; patients audited as read
    files = job.request["files"].rstrip("/") + "/" + job.id
    folder.mkdir(parents=True, exist_ok=True)
    output, declarations = [], []
    for item in asked["views"]:
        if not progress(f"view {item['name']}"):
            raise Cancelled()
        view = parse_view(item["view"])
        source: Any = RepositorySource(secure, patients=asked["patients"], since=asked["since"])
        pseudonymiser = None
        if asked["pseudonymise"]:
            from ehelse.portals.healthdata.run import project_key

            store = SqlStore(repo) if hasattr(repo, "_writing") else MemoryStore()
            pseudonymiser = Pseudonymiser(project_key(store, asked["project"]), project=asked["project"])
            source = PseudonymisedSource(source, pseudonymiser)
        result = run_engine(view, source, engine="duckdb")
        name = f"{item['name']}.{asked['format']}"
        partial = folder / f".{name}.partial"
        with open(partial, "wb") as f:
            count = write(result.rows, result.columns, f, asked["format"], view=view, header=asked["header"])
        partial.replace(folder / name)
        touched = getattr(source, "source", source).touched
        audit_run(actor, view, touched, None, repo=repo, engine=f"{result.engine} (export {job.id})", rows=count)
        output.append({"name": item["name"], "type": "ViewDefinition", "format": asked["format"],
                       "url": f"{files}/{name}", "count": count})
        if pseudonymiser is not None:
            declarations.append(pseudonymiser.declaration(view=item["name"], rows=count))
    flush = getattr(getattr(secure, "audit", None), "flush", None)
    if flush is not None:
        flush()  # every patient's access durable before the manifest makes the files fetchable
    manifest: dict[str, Any] = {"transactionTime": job.transaction_time, "request": asked["url"],
                                "requiresAccessToken": True, "exportId": job.id, "output": output, "error": []}
    if asked.get("clientTrackingId"):
        manifest["clientTrackingId"] = asked["clientTrackingId"]
    if declarations:
        manifest["pseudonymisation"] = declarations  # documented with the output, as the issue asks
    return manifest
