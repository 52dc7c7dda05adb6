"""$validate (http://hl7.org/fhir/R4/resource-operation-validate.html) wired to the validator.

`ehelse.fhir.operations.validate.validate_operation(resource_type, body, instance, mode,
profile) -> (status, OperationOutcome)` (the validation issue's module) does the work and
reads a Parameters body itself; this adapter adds the URL's mode/profile and, at instance
level, the stored resource. Imported lazily: the validator is large.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import NotImplementedFhir
from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirResponse


def run(ctx: Any, type: str, id: str | None, parameters: Any) -> FhirResponse:
    try:
        from ehelse.fhir.operations.validate import validate_operation
    except ImportError:
        raise NotImplementedFhir("$validate is not available in this build") from None
    instance = None
    if id is not None:
        version = ctx.repo.read(type, id)
        if version is not None and not version.deleted:
            instance = jsoncodec.loads(version.content, max_depth=10_000)
    status, outcome = validate_operation(type, parameters, instance, ctx.request.param("mode"),
                                         ctx.request.param("profile"))
    return FhirResponse(status, resource=outcome, interaction="operation")
