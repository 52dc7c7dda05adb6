"""SMART scopes: parsing v2 and v1 forms, and whether one set of scopes covers another.

SMART App Launch 2.0.0, scopes-and-launch-context.html:
    patient/Observation.rs        v2: context / resource type . permissions (c r u d s, in order)
    user/*.cruds                  any type
    system/*.rs                   backend services
    patient/*.read                v1: .read = rs, .write = cud, .* = cruds (accepted, mapped)
    patient/Observation.rs?category=...   v2 granular scopes (the query is kept, and a
                                          granular scope is covered by its plain form)
Plain scopes: openid fhirUser profile launch launch/patient launch/encounter offline_access
online_access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ehelse.fhir.resource_types import is_resource_type

CONTEXTS = ("patient", "user", "system")
PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_RESOURCE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(\?.*)?$")
PLAIN = frozenset({"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
                   "offline_access", "online_access"})


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str  # patient | user | system
    resource: str  # a resource type or "*"
    permissions: str  # a subsequence of "cruds"
    query: str = ""  # a v2 granular restriction, "?category=..."

    def covers(self, other: "ResourceScope") -> bool:
        return (self.context == other.context and self.resource in ("*", other.resource)
                and set(other.permissions) <= set(self.permissions)
                and (not self.query or self.query == other.query))

    def __str__(self) -> str:
        return f"{self.context}/{self.resource}.{self.permissions}{self.query}"


class ScopeError(ValueError):
    """A scope that is neither a known plain scope nor a SMART resource scope."""


def parse(scope: str) -> ResourceScope | str:
    """A plain scope as its string; a resource scope as ResourceScope (v1 mapped to v2)."""
    if scope in PLAIN:
        return scope
    match = _RESOURCE.match(scope)
    if not match:
        raise ScopeError(f"unknown scope {scope!r}")
    context, resource, perms, query = match.groups()
    if resource != "*" and not is_resource_type(resource):
        raise ScopeError(f"unknown resource type in scope {scope!r}")
    if perms in _V1:
        perms = _V1[perms]
    elif not perms or any(p not in PERMISSIONS for p in perms) or list(perms) != sorted(perms, key=PERMISSIONS.index) \
            or len(set(perms)) != len(perms):
        raise ScopeError(f"permissions in {scope!r} must be c, r, u, d, s in that order, or v1 read/write/*")
    return ResourceScope(context, resource, perms, query or "")


def split(scopes: str | None) -> list[str]:
    return [s for s in (scopes or "").split() if s]


def covered(requested: str | list[str], allowed: str | list[str]) -> list[str]:
    """The requested scopes that `allowed` does not cover (empty: all covered). Raises
    ScopeError for a scope that does not parse."""
    requested = split(requested) if isinstance(requested, str) else requested
    allowed = split(allowed) if isinstance(allowed, str) else allowed
    plain_allowed = {s for s in allowed if s in PLAIN}
    resource_allowed = [p for p in map(_parse_lenient, allowed) if isinstance(p, ResourceScope)]
    missing = []
    for scope in requested:
        parsed = parse(scope)
        if isinstance(parsed, str):
            if parsed not in plain_allowed:
                missing.append(scope)
        elif not any(a.covers(parsed) for a in resource_allowed):
            missing.append(scope)
    return missing


def _parse_lenient(scope: str) -> ResourceScope | str | None:
    try:
        return parse(scope)
    except ScopeError:
        return None


def normalise(scopes: str | list[str]) -> str:
    """The scopes as granted: v1 forms mapped to v2, duplicates dropped, order kept."""
    seen: list[str] = []
    for scope in split(scopes) if isinstance(scopes, str) else scopes:
        text = str(parse(scope))
        if text not in seen:
            seen.append(text)
    return " ".join(seen)


def contexts(scopes: str) -> set[str]:
    """The contexts (patient, user, system) the resource scopes name."""
    return {p.context for p in map(_parse_lenient, split(scopes)) if isinstance(p, ResourceScope)}
