"""The FHIRPath functions SQL on FHIR v2 adds, for fhirpathpy's user invocation table.

Spec: https://sql-on-fhir.org/ig/latest/StructureDefinition-ViewDefinition.html#required-additional-functions
- `getResourceKey()`: an opaque key of the resource; ours is its `id`, so rows of different
  views join on it and analysts recognise it.
- `getReferenceKey([type])`: the key of the resource a Reference points at, matching
  `getResourceKey()` of that resource: the id part of a relative or absolute literal
  reference (`Patient/123`, `https://x/fhir/Patient/123/_history/2`, `urn:uuid:123`); empty
  when the reference names another type than `type`, or is contained (`#x`) or logical only.
The DuckDB and Spark compilers (engines/) implement the same rules in SQL: reference_key()
below is the one definition they are tested against.
"""

from __future__ import annotations

from typing import Any


def reference_key(reference: Any, type: str | None = None) -> str | None:
    if not isinstance(reference, str) or not reference or reference.startswith("#"):
        return None
    if reference.startswith("urn:uuid:") or reference.startswith("urn:oid:"):
        return reference.rsplit(":", 1)[1] if type is None else None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    ref_type, ref_id = parts[-2], parts[-1]
    if type is not None and ref_type != type:
        return None
    return ref_id or None


def _resource_key(inputs: list[Any]) -> list[Any]:
    return [item["id"] for item in inputs if isinstance(item, dict) and "id" in item]


def _reference_key(inputs: list[Any], type: Any = None) -> list[Any]:
    type_name = getattr(type, "name", None) if type is not None else None
    keys = []
    for item in inputs:
        if isinstance(item, dict):
            key = reference_key(item.get("reference"), type_name)
            if key is not None:
                keys.append(key)
    return keys


FUNCTIONS: dict[str, dict[str, Any]] = {
    "getResourceKey": {"fn": _resource_key, "arity": {0: []}},
    "getReferenceKey": {"fn": _reference_key, "arity": {0: [], 1: ["TypeSpecifier"]}},
}
