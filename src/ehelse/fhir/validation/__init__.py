"""FHIR R4 validation (issue 3): `validate(resource, profiles=...) -> list[Issue]`.

Three passes, each only when the one before found no errors (a FHIRPath invariant or a
profile on a malformed structure would report noise, not facts):
  1. structure.py   element names, JSON shapes, types, cardinality, primitives, references,
                    bindings -- one walk against tables compiled from the R4 definitions
  2. invariants.py  the core constraints (FHIRPath), per resource: the walk of pass 1
                    collects where they apply, so the resource is walked once
  3. profiles.py    meta.profile, the `profiles` argument and known extension definitions
docs/validation.md lists what is checked and what is not.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import Issue
from ehelse.fhir.validation import profiles as _profiles
from ehelse.fhir.validation.model import model
from ehelse.fhir.validation.profiles import register_profile
from ehelse.fhir.validation.structure import Walk

from ehelse.fhir.validation import invariants as _invariants

__all__ = ["validate", "register_profile"]


def validate(resource: Any, *, profiles: list[str] | None = None) -> list[Issue]:
    """All issues found in `resource` (errors, warnings); empty when it is valid."""
    tables = model()
    _invariants.attach(tables)  # once: the walk below collects where invariants apply
    walk = Walk(tables, _profiles.extension_urls())
    walk.resource(resource, None)
    issues = walk.issues
    for issue in issues:
        if issue.is_error:
            return issues
    try:
        issues.extend(_invariants.evaluate(walk.pending))
    except Exception as exc:  # noqa: BLE001 - a fault in one invariant must not become a 500
        issues.append(Issue("warning", "exception",
                            f"invariants could not be evaluated: {type(exc).__name__}: {exc}"))
    if profiles or walk.extensions or walk.profiled or _claims_profile(resource):
        issues.extend(_profiles.check(resource, profiles, walk.extensions, walk.profiled))
    return issues


def _claims_profile(resource: dict) -> bool:
    """Whether `meta.profile` names any profile (the profile pass has nothing to do if not,
    no profile being asked for and no extension with a known definition found)."""
    meta = resource.get("meta")
    return type(meta) is dict and bool(meta.get("profile"))
