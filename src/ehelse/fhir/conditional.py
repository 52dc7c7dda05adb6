"""Conditional create, update, delete and patch (http://hl7.org/fhir/R4/http.html#ccreate,
#cond-update, #cdelete, #patch): the target is found by a search instead of an id.

0 / 1 / many matches decide what happens; "many" is always 412 Precondition Failed.
Deletion supports a single match only (CapabilityStatement conditionalDelete = single).
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import BadRequest, NotFound, PreconditionFailed
from ehelse.fhir import interactions
from ehelse.fhir.interactions import Context
from ehelse.fhir.request import FhirResponse
from ehelse.fhir.search_request import parse_query_string, parse_search
from ehelse.storage.protocol import ResourceVersion


def matches(ctx: Context, type: str, criteria: list[tuple[str, str]] | str) -> list[ResourceVersion]:
    """At most two current resources matching the criteria (two is enough to say 'many')."""
    params = parse_query_string(criteria) if isinstance(criteria, str) else criteria
    query = parse_search(params, ctx.settings)
    if not query.params:
        raise BadRequest("A conditional interaction needs search criteria", code="required")
    query.count, query.offset, query.total = 2, 0, "none"
    return ctx.repo.search(type, query).entries


def one_or_none(ctx: Context, type: str, criteria: list[tuple[str, str]] | str,
                what: str) -> ResourceVersion | None:
    found = matches(ctx, type, criteria)
    if len(found) > 1:
        raise PreconditionFailed(f"{what}: the criteria match more than one {type}")
    return found[0] if found else None


def conditional_create(ctx: Context, type: str, resource: dict[str, Any], criteria: str) -> FhirResponse:
    """If-None-Exist: 0 matches -> create; 1 -> 200 with the existing one; many -> 412."""
    existing = one_or_none(ctx, type, criteria, "If-None-Exist")
    if existing is None:
        return interactions.create(ctx, type, resource)
    return existing_response(ctx, existing)


def existing_response(ctx: Context, version: ResourceVersion) -> FhirResponse:
    """A conditional create that found its match: 200 and the match, nothing written."""
    return interactions.written(ctx, version, 200, "create")


def conditional_update(ctx: Context, type: str, resource: dict[str, Any],
                       criteria: list[tuple[str, str]]) -> FhirResponse:
    """0 matches -> create (with the body id as update-as-create when one is given); 1 -> update
    it (a differing body id is a 400); many -> 412."""
    found = one_or_none(ctx, type, criteria, "Conditional update")
    body_id = resource.get("id")
    if found is None:
        if body_id is not None:
            return interactions.update(ctx, type, interactions.check_id(str(body_id), f"{type}.id"), resource)
        return interactions.create(ctx, type, resource)
    if body_id is not None and body_id != found.id:
        raise BadRequest(f"Body id {str(body_id)[:80]!r} differs from the matching {type}/{found.id}",
                         code="invalid", expression=f"{type}.id")
    resource["id"] = found.id
    return interactions.update(ctx, type, found.id, resource)


def conditional_delete(ctx: Context, type: str, criteria: list[tuple[str, str]]) -> FhirResponse:
    """0 matches -> 204; 1 -> delete it; many -> 412 (single-delete server)."""
    found = one_or_none(ctx, type, criteria, "Conditional delete")
    if found is None:
        return FhirResponse(204, interaction="delete")
    return interactions.delete(ctx, type, found.id)


def conditional_patch(ctx: Context, type: str, patch_document: Any,
                      criteria: list[tuple[str, str]]) -> FhirResponse:
    """0 matches -> 404; 1 -> patch it; many -> 412."""
    found = one_or_none(ctx, type, criteria, "Conditional patch")
    if found is None:
        raise NotFound(f"No {type} matches the patch criteria")
    return interactions.patch(ctx, type, found.id, patch_document)
