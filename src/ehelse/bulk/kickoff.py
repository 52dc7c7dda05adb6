"""$export kick-off: `[base]/$export`, `[base]/Patient/$export`, `[base]/Group/[id]/$export`.

Spec: https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request. The
request must say `Prefer: respond-async` (400 otherwise); the answer is 202 with the status
URL in `Content-Location`, and the export runs later in a worker (worker.py).

Who may export: admins, and system clients (SMART Backend Services) with the scopes for what
they export. Citizens and health personnel get 403: bulk export is for system-level clients
(export.html#security-considerations); a citizen downloads their own data in the portal, a
clinician reads one patient's record through the summary and $everything, both inside the
per-patient access rules and their audit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ehelse.audit.events import audit_event
from ehelse.audit.trail import trail_for
from ehelse.bulk import request as export_request
from ehelse.bulk.jobs import JobStore
from ehelse.bulk.worker import notify
from ehelse.errors import BadRequest, Forbidden, NotFound
from ehelse.fhir.request import FhirResponse
from ehelse.storage.stamp import now_instant

EXPORTERS = ("admin", "system")


def status_base(base_url: str) -> str:
    """Where status and files live: beside /fhir (they need DELETE and raw NDJSON bodies)."""
    origin = base_url[: -len("/fhir")] if base_url.endswith("/fhir") else base_url
    return origin + "/bulk"


def export(ctx: Any, type: str | None, id: str | None, parameters: Any) -> FhirResponse:
    request = ctx.request
    if type is None:
        level = "system"
    elif type == "Patient" and id is None:
        level = "patient"
    elif type == "Group" and id is not None:
        level = "group"
    else:
        raise NotFound("$export runs at [base]/$export, [base]/Patient/$export and [base]/Group/[id]/$export",
                       code="not-supported")
    prefer = (request.header("prefer") or "").lower()
    if "respond-async" not in prefer:
        raise BadRequest("$export needs the header Prefer: respond-async (export.html#headers)",
                         code="required", expression="Prefer")
    actor = request.actor
    if actor is None or actor.kind not in EXPORTERS:
        raise Forbidden("Bulk export is for system clients (SMART Backend Services) and administrators",
                        code="forbidden")
    url = f"{request.base_url}/{request.path}"
    if request.query:
        url += "?" + urlencode(request.query)
    parsed = export_request.parse(level, url, request.query, parameters, group=id, method=request.method)
    if level == "group":
        group = ctx.repo.read("Group", id)  # the access rules say whether it is there for this actor
        if group is None or group.deleted:
            raise NotFound(f"Group/{id} is not known")
    for wanted in parsed.types:  # a type the scopes forbid is refused now, not found missing later
        if actor.kind != "admin" and not ctx.repo.view.scopes.allows(wanted, "search", contexts=("system",)):
            raise Forbidden(f"The token's scopes do not allow export of {wanted}", code="forbidden")
    store = JobStore(ctx.repo)
    base = status_base(request.base_url)
    job = store.create(actor, {"export": parsed.to_json(), "files": f"{base}/files"}, now_instant())
    trail_for(getattr(ctx.repo, "inner", ctx.repo)).record([_audit(actor, job.id, url)])
    notify()
    return FhirResponse(202, resource=None, interaction="operation",
                        headers={"Content-Location": f"{base}/status/{job.id}"})


def _audit(actor: Any, job_id: str, url: str) -> dict[str, Any]:
    """The kick-off itself, whoever's data follows (each patient's is audited as it is read)."""
    event = audit_event(actor, interaction="operation", patient_id="none", query=url,
                        detail=f"bulk export {job_id} requested")
    event["entity"] = [e for e in event.get("entity", []) if e.get("what", {}).get("reference") != "Patient/none"]
    return event
