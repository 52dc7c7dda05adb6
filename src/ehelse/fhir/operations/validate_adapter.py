"""$validate (http://hl7.org/fhir/R4/resource-operation-validate.html) wired to the validator.

The validation engineer's `ehelse.fhir.operations.validate.validate_operation(resource_type,
body, instance, mode, profile) -> (status, OperationOutcome)` does the work; this adapter
takes the parameters from the URL or a Parameters body and the instance from the repository.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import BadRequest, NotImplementedFhir
from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirResponse

MODES = ("create", "update", "delete")


def _parameter(parameters: Any, name: str) -> Any:
    if isinstance(parameters, dict) and parameters.get("resourceType") == "Parameters":
        for parameter in parameters.get("parameter") or []:
            if isinstance(parameter, dict) and parameter.get("name") == name:
                for key, value in parameter.items():
                    if key.startswith("value") or key == "resource":
                        return value
    return None


def run(ctx: Any, type: str, id: str | None, parameters: Any) -> FhirResponse:
    try:
        from ehelse.fhir.operations.validate import validate_operation
    except ImportError:
        raise NotImplementedFhir("$validate is not available in this build") from None
    mode = ctx.request.param("mode") or _parameter(parameters, "mode")
    if mode is not None and mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}", code="value", expression="mode")
    profile = ctx.request.param("profile") or _parameter(parameters, "profile")
    body = parameters
    if isinstance(parameters, dict) and parameters.get("resourceType") == "Parameters" and type != "Parameters":
        body = _parameter(parameters, "resource")
    instance = None
    if id is not None:
        version = ctx.repo.read(type, id)
        if version is not None and not version.deleted:
            instance = jsoncodec.loads(version.content, max_depth=10_000)
    status, outcome = validate_operation(type, body, instance, mode, profile)
    return FhirResponse(status, resource=outcome, interaction="operation")
