"""The terminology operations wired into the router's $operation registry.

The work is done in ehelse.terminology.operations (CodeSystem/$lookup, $validate-code,
$subsumes, ValueSet/$expand, $validate-code, ConceptMap/$translate; see that module for the
spec sections). Here: one handler per operation name that picks the function by resource
type, passes the URL parameters as `dict[str, list[str]]` and, at instance level, the id.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import NotFound
from ehelse.fhir.request import FhirResponse


def run(ctx: Any, type: str | None, id: str | None, parameters: Any, *, name: str) -> FhirResponse:
    from ehelse.terminology.operations import OPERATIONS

    function = OPERATIONS.get((type or "", "$" + name))
    if function is None:
        raise NotFound(f"${name} is not defined for {type or 'the system'}", code="not-supported")
    params: dict[str, list[str]] = {}
    for key, value in ctx.request.query:
        params.setdefault(key, []).append(value)
    if id is not None:
        params["_id"] = [id]
    status, resource = function(params, parameters if isinstance(parameters, dict) else None, ctx.repo)
    return FhirResponse(status, resource=resource, interaction="operation")


def lookup(ctx, type, id, parameters):
    return run(ctx, type, id, parameters, name="lookup")


def validate_code(ctx, type, id, parameters):
    return run(ctx, type, id, parameters, name="validate-code")


def subsumes(ctx, type, id, parameters):
    return run(ctx, type, id, parameters, name="subsumes")


def expand(ctx, type, id, parameters):
    return run(ctx, type, id, parameters, name="expand")


def translate(ctx, type, id, parameters):
    return run(ctx, type, id, parameters, name="translate")
