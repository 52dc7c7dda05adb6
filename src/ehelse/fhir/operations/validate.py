"""$validate: http://hl7.org/fhir/R4/resource-operation-validate.html

`POST [type]/$validate` and `POST [type]/[id]/$validate`. The body is a Parameters resource
(`resource`, `mode`, `profile`) or the bare resource. The answer is always an
OperationOutcome listing every issue found (not only the first); the HTTP status is 200
when the validation ran, whatever it found (the outcome carries the verdict), and 400 when
the request itself is unusable (no resource where one is needed, an unknown mode).

Modes (valueset-resource-validation-mode): `create` and `update` validate the content as
that interaction would; `delete` validates nothing in the content (we keep no rules that
forbid a delete), so it answers "All OK"; `profile` is allowed with a `profile` parameter.
`instance` is the stored resource for `[type]/[id]/$validate`, used when no resource is
given (e.g. mode=delete or a profile check of what is stored).
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import Issue, operation_outcome
from ehelse.fhir.validation import validate

MODES = frozenset({"create", "update", "delete", "profile"})


def _parameters(body: dict[str, Any]) -> tuple[Any, str | None, str | None, list[Issue]]:
    """(resource, mode, profile, issues) from a Parameters body."""
    resource = mode = profile = None
    issues: list[Issue] = []
    for index, parameter in enumerate(body.get("parameter") or ()):
        if type(parameter) is not dict:
            continue
        name = parameter.get("name")
        if name == "resource":
            resource = parameter.get("resource")
        elif name == "mode":
            mode = parameter.get("valueCode") or parameter.get("valueString")
        elif name == "profile":
            profile = parameter.get("valueUri") or parameter.get("valueCanonical") or parameter.get("valueString")
        else:
            issues.append(Issue("warning", "not-supported", f"unknown $validate parameter {name!r} ignored",
                                f"Parameters.parameter[{index}]"))
    return resource, mode, profile, issues


def validate_operation(resource_type: str | None, body: dict | None, instance: dict | None,
                       mode: str | None, profile: str | None) -> tuple[int, dict]:
    """(HTTP status, OperationOutcome) for a $validate request.

    resource_type: the [type] of the URL (None at system level); body: the parsed request
    body or None; instance: the stored resource for [type]/[id]/$validate, else None; mode
    and profile: from the URL query (the Parameters body, if any, overrides them)."""
    issues: list[Issue] = []
    resource: Any = body
    if type(body) is dict and body.get("resourceType") == "Parameters" and resource_type != "Parameters":
        resource, body_mode, body_profile, issues = _parameters(body)
        mode = body_mode or mode
        profile = body_profile or profile
    if mode is not None and mode not in MODES:
        return 400, operation_outcome([Issue("error", "invalid", f"unknown mode {mode!r}: expected one of "
                                             f"{', '.join(sorted(MODES))}")])
    if mode == "delete":
        return 200, operation_outcome(issues)
    if resource is None:
        resource = instance
    if resource is None:
        return 400, operation_outcome([Issue("error", "required", "no resource to validate: send it as the "
                                             "body or as the `resource` parameter")])
    if mode == "profile" and not profile:
        return 400, operation_outcome([Issue("error", "required", "mode=profile needs a `profile` parameter")])
    if type(resource) is dict and resource_type and resource.get("resourceType") not in (resource_type, None):
        issues.append(Issue("error", "invalid", f"the resource is a {resource.get('resourceType')}, "
                            f"but this is {resource_type}/$validate", "resourceType"))
    if type(resource) is dict and mode == "update" and not resource.get("id"):
        issues.append(Issue("error", "required", "an update needs the resource's id", f"{resource.get('resourceType', 'Resource')}.id"))
    if type(resource) is dict and instance is not None and instance.get("id") and resource.get("id") \
            and resource.get("id") != instance.get("id"):
        issues.append(Issue("error", "invalid", "the resource's id differs from the id in the URL",
                            f"{resource.get('resourceType')}.id"))
    issues.extend(validate(resource, profiles=[profile] if profile else None))
    return 200, operation_outcome(issues)
