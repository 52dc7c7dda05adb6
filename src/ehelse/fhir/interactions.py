"""The instance and type interactions of http://hl7.org/fhir/R4/http.html: read, vread,
create, update, delete and patch. Conditional variants live in conditional.py.

Each takes a Context (settings, repository, request) and already parsed input, and returns a
FhirResponse. Reads hand back the stored bytes untouched: that is the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ehelse.errors import BadRequest, Gone, Issue, NotFound, PreconditionFailed, operation_outcome
from ehelse.fhir import jsoncodec
from ehelse.fhir.body import raise_on_errors, validate_write
from ehelse.fhir.headers import etag, parse_etag, parse_http_date, prefer_return, version_headers
from ehelse.fhir.patch import apply_json_patch
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.resource_types import is_valid_id
from ehelse.fhir.summary import apply_subset, requested_subset
from ehelse.settings import Settings
from ehelse.storage.protocol import Repository, ResourceVersion
from ehelse.storage.staged import Staged, staged


@dataclass(slots=True)
class Context:
    """What every interaction needs: the settings, the (per-request) repository, the request."""

    settings: Settings
    repo: Repository
    request: FhirRequest

    @property
    def base_url(self) -> str:
        return self.request.base_url


def check_id(id: str, where: str = "id") -> str:
    if not is_valid_id(id):
        raise BadRequest(f"{id[:80]!r} is not a valid id ([A-Za-z0-9-.]{{1,64}})", code="value", expression=where)
    return id


def current(ctx: Context, type: str, id: str) -> ResourceVersion:
    """The current version: 404 if it never existed, 410 if it was deleted."""
    version = ctx.repo.read(type, id)
    if version is None:
        raise NotFound(f"{type}/{id} is not known")
    if version.deleted:
        raise Gone(f"{type}/{id} was deleted", headers=version_headers(ctx.base_url, version))
    return version


def version_response(ctx: Context, version: ResourceVersion, status: int = 200,
                     interaction: str = "read") -> FhirResponse:
    """A stored version as a response: its bytes as they are, unless a subset was asked for."""
    headers = version_headers(ctx.base_url, version)
    summary, elements = requested_subset(ctx.request)
    if summary is None and elements is None:
        return FhirResponse(status, body=version.content, headers=headers, interaction=interaction)
    resource = jsoncodec.loads(version.content, max_depth=10_000)
    if summary == "count":
        raise BadRequest("_summary=count applies to search only", code="value", expression="_summary")
    return FhirResponse(status, resource=apply_subset(resource, summary, elements), headers=headers,
                        interaction=interaction)


def read(ctx: Context, type: str, id: str) -> FhirResponse:
    """http.html#read, with If-None-Match / If-Modified-Since (http.html#cread) giving 304."""
    check_id(id)
    version = current(ctx, type, id)
    none_match = ctx.request.header("if-none-match")
    if none_match is not None and none_match.strip() != "*":
        if parse_etag(none_match, "If-None-Match") == version.version_id:
            return FhirResponse(304, headers=version_headers(ctx.base_url, version), interaction="read")
    since = parse_http_date(ctx.request.header("if-modified-since"))
    # HTTP dates have whole seconds: compare at that precision.
    if since is not None and version.last_updated[:19] <= since[:19]:
        return FhirResponse(304, headers=version_headers(ctx.base_url, version), interaction="read")
    return version_response(ctx, version)


def vread(ctx: Context, type: str, id: str, vid: str) -> FhirResponse:
    """http.html#vread: a deleted version is 410, an unknown one 404."""
    check_id(id)
    if not vid.isdigit() or len(vid) > 18:
        raise NotFound(f"{type}/{id} has no version {vid[:40]!r}")
    version = ctx.repo.vread(type, id, int(vid))
    if version is None:
        raise NotFound(f"{type}/{id} has no version {vid}")
    if version.deleted:
        raise Gone(f"{type}/{id} version {vid} is a deletion", headers=version_headers(ctx.base_url, version))
    return version_response(ctx, version, interaction="vread")


def written(ctx: Context, version: ResourceVersion, status: int, interaction: str,
            warnings: list[Issue] | None = None) -> FhirResponse:
    """The answer to a write, shaped by Prefer (http.html#ops); Location on 201."""
    headers = version_headers(ctx.base_url, version, location=status == 201)
    preference = prefer_return(ctx.request)
    if preference == "minimal":
        return FhirResponse(status, headers=headers, interaction=interaction)
    if preference == "OperationOutcome":
        verb = {"create": "Created", "update": "Updated", "patch": "Patched"}.get(interaction, "Stored")
        note = Issue("information", "informational", f"{verb} {version.type}/{version.id} version {version.version_id}")
        return FhirResponse(status, resource=operation_outcome([note, *(warnings or [])]), headers=headers,
                            interaction=interaction)
    return FhirResponse(status, body=version.content, headers=headers, interaction=interaction)


def _validated(ctx: Context, resource: dict[str, Any], issues: list[Issue] | None) -> list[Issue]:
    """The warnings of the resource; `issues`: validation already ran (a transaction Bundle
    validates its entries before the write lock, fhir/bundle.py), only its verdict applies."""
    if issues is not None:
        return raise_on_errors(issues)
    return validate_write(resource, ctx.settings)


def create(ctx: Context, type: str, resource: dict[str, Any], *, id: str | None = None,
           issues: list[Issue] | None = None) -> FhirResponse:
    """http.html#create: the server assigns the id; an id in the body is ignored."""
    return stage_create(ctx, type, resource, id=id, issues=issues).run()


def update(ctx: Context, type: str, id: str, resource: dict[str, Any], *,
           issues: list[Issue] | None = None) -> FhirResponse:
    """http.html#update: body id must equal the URL id (400); If-Match guards against lost
    updates (412); an unknown id is created (update-as-create, 201)."""
    return stage_update(ctx, type, id, resource, issues=issues).run()


def delete(ctx: Context, type: str, id: str) -> FhirResponse:
    """http.html#delete: the deletion is a version (history keeps it); deleting what is not
    there is fine too (204)."""
    return stage_delete(ctx, type, id).run()


# The same three as staged writes (storage/staged.py): validated and checked now, written by
# apply() in a write transaction (the caller's, which several writes may share: web/writes.py),
# answered by finish() after its commit.
def stage_create(ctx: Context, type: str, resource: dict[str, Any], *, id: str | None = None,
                 issues: list[Issue] | None = None) -> Staged:
    resource.pop("id", None)
    warnings = _validated(ctx, resource, issues)
    return staged(ctx.repo, "create", resource, id=id).then(
        lambda version: written(ctx, version, 201, "create", warnings))


def stage_update(ctx: Context, type: str, id: str, resource: dict[str, Any], *,
                 issues: list[Issue] | None = None) -> Staged:
    check_id(id)
    body_id = resource.get("id")
    if body_id is None:
        raise BadRequest("The resource must have an id equal to the id in the URL", code="required",
                         expression=f"{type}.id")
    if body_id != id:
        raise BadRequest(f"Body id {str(body_id)[:80]!r} does not match the URL id {id!r}", code="invalid",
                         expression=f"{type}.id")
    if_match = parse_etag(ctx.request.header("if-match"))
    warnings = _validated(ctx, resource, issues)
    return staged(ctx.repo, "update", resource, if_match=if_match, method="PUT").then(
        lambda result: written(ctx, result[0], 201 if result[1] else 200, "update", warnings))


def stage_delete(ctx: Context, type: str, id: str) -> Staged:
    check_id(id)
    if_match = parse_etag(ctx.request.header("if-match"))
    return staged(ctx.repo, "delete", type, id, if_match=if_match).then(
        lambda version: _deleted(ctx, type, id, version))


def _deleted(ctx: Context, type: str, id: str, version: ResourceVersion | None) -> FhirResponse:
    headers = {"etag": etag(version)} if version is not None else {}
    if prefer_return(ctx.request) == "OperationOutcome":
        text = f"Deleted {type}/{id}" if version else f"{type}/{id} did not exist or was deleted already"
        return FhirResponse(200, resource=operation_outcome([Issue("information", "informational", text)]),
                            headers=headers, interaction="delete")
    return FhirResponse(204, headers=headers, interaction="delete")


def patch(ctx: Context, type: str, id: str, patch_document: Any) -> FhirResponse:
    """http.html#patch with JSON Patch. The result is validated like an update, and If-Match
    (or else the version we patched) guards the write so a concurrent change is not lost."""
    return stage_patch(ctx, type, id, patch_document).run()


def stage_patch(ctx: Context, type: str, id: str, patch_document: Any) -> Staged:
    check_id(id)
    if_match = parse_etag(ctx.request.header("if-match"))
    version = current(ctx, type, id)
    if if_match is not None and if_match != version.version_id:
        raise PreconditionFailed(f"{type}/{id}: If-Match expects version {if_match}, current is {version.version_id}")
    resource = jsoncodec.loads(version.content, max_depth=10_000)
    patched = apply_json_patch(resource, patch_document)
    warnings = validate_write(patched, ctx.settings)
    return staged(ctx.repo, "update", patched, if_match=version.version_id, method="PATCH").then(
        lambda result: written(ctx, result[0], 200, "patch", warnings))
