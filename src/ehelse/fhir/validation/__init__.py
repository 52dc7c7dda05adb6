"""FHIR R4 validation (issue 3). Placeholder until the compiled validator lands:
it checks only that a resource is a JSON object with a resourceType."""

from __future__ import annotations

from typing import Any

from ehelse.errors import Issue


def validate(resource: Any, *, profiles: list[str] | None = None) -> list[Issue]:
    """All issues found in `resource` (errors, warnings); empty when it is valid."""
    if not isinstance(resource, dict):
        return [Issue("error", "structure", "A resource must be a JSON object")]
    if not isinstance(resource.get("resourceType"), str):
        return [Issue("error", "required", "resourceType is required", "resourceType")]
    return []
