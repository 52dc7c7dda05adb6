"""Request bodies: from bytes to a checked resource, and the validation gate on every write.

http://hl7.org/fhir/R4/http.html#2.21.0.17.1 (status codes): unparseable or structurally
wrong content is 400; content that breaks the rules of the resource is 422.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import BadRequest, Issue, PayloadTooLarge, ValidationFailed
from ehelse.fhir import jsoncodec
from ehelse.fhir.headers import RESOURCE_MEDIA_TYPES, check_body_type
from ehelse.fhir.request import FhirRequest
from ehelse.settings import Settings

# http://hl7.org/fhir/R4/datatypes.html#string: "Strings SHALL NOT exceed 1MB in size".
MAX_STRING_BYTES = 1024 * 1024
# base64Binary elements (Attachment.data, Binary.data) carry documents and have no such limit.
_BINARY_KEYS = frozenset({"data"})


def check_size(request: FhirRequest, settings: Settings) -> None:
    if len(request.body) > settings.max_body_bytes:
        raise PayloadTooLarge(f"Body of {len(request.body)} bytes is over the limit of {settings.max_body_bytes}")


def parse_json(request: FhirRequest, settings: Settings,
               media_types: frozenset[str] = RESOURCE_MEDIA_TYPES) -> Any:
    """The body as parsed JSON (any shape); 400/413/415 on anything unfit."""
    check_size(request, settings)
    check_body_type(request, media_types)
    if not request.body.strip():
        raise BadRequest("A body is required", code="required")
    value = jsoncodec.loads(request.body, max_depth=settings.max_json_depth)
    if len(request.body) > MAX_STRING_BYTES:  # only a body this large can hold such a string
        _check_strings(value, "")
    return value


def parse_resource(request: FhirRequest, settings: Settings, type: str | None) -> dict[str, Any]:
    """The body as a resource of `type` (any type when None)."""
    value = parse_json(request, settings)
    return check_resource(value, type)


def check_resource(value: Any, type: str | None, where: str = "") -> dict[str, Any]:
    from ehelse.fhir.resource_types import is_resource_type

    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object (a FHIR resource)", code="structure",
                         expression=where or None)
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str):
        raise BadRequest("resourceType is required", code="required",
                         expression=f"{where}.resourceType" if where else "resourceType")
    if type is not None and resource_type != type:
        raise BadRequest(f"resourceType {resource_type!r} does not match the URL type {type!r}",
                         code="invalid", expression=f"{where}.resourceType" if where else "resourceType")
    if not is_resource_type(resource_type):
        raise BadRequest(f"{resource_type!r} is not an R4 resource type", code="not-supported",
                         expression=f"{where}.resourceType" if where else "resourceType")
    return value


def _check_strings(value: Any, path: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING_BYTES // 4 and len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise BadRequest("A string is longer than the 1 MB FHIR allows", code="too-long",
                             expression=path or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _BINARY_KEYS:
                _check_strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def validate_write(resource: dict[str, Any], settings: Settings) -> list[Issue]:
    """Validate what is about to be stored (when settings.validate); raise on any error-severity
    issue with all issues found. Returns the warnings, if any."""
    return raise_on_errors(validation_issues(resource, settings))


def validation_issues(resource: dict[str, Any], settings: Settings) -> list[Issue]:
    """Every issue validation finds in the resource ([] when settings.validate is off), without
    raising: a transaction Bundle validates its entries before it takes the database's write
    lock (fhir/bundle.py), and raises an entry's errors only when that entry is written."""
    if not settings.validate:
        return []
    from ehelse.fhir.validation import validate  # the validator is large: import on first write

    issues = validate(resource)
    if not any(issue.is_error for issue in issues):
        # Norwegian rules on top of R4: FNR/D-nummer check digits (DOMAIN.md) and the
        # deployment's required profiles (setting required_profiles).
        from ehelse.nobasis.identifiers import check_resource_identifiers
        from ehelse.nobasis.profiles import required_profile_issues

        issues += check_resource_identifiers(resource)
        issues += required_profile_issues(resource, settings)
    return issues


def raise_on_errors(issues: list[Issue]) -> list[Issue]:
    """The warnings when no issue is an error; else 400 (structure) or 422 with all issues
    (http.html#2.21.0.17.1)."""
    errors = [issue for issue in issues if issue.is_error]
    if not errors:
        return issues
    if all(issue.code == "structure" for issue in errors):
        raise BadRequest(issues=issues)
    raise ValidationFailed(issues=issues)
