"""Broken variants of valid resources: one mutation per class, and where it should be caught.

Each mutator takes a deep copy of a valid resource and returns (mutated resource, the
FHIRPath of the mutated element) or None when the resource offers no place for that class
(e.g. no reference to break). The element is found through the validator's own tables, so
every resource type gets its mutations without a hand-written list.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterator

from ehelse.fhir.validation import terminology
from ehelse.fhir.validation.model import Rule, Table, model

Found = tuple[dict, str, Rule, str]  # (object holding the element, JSON key, rule, FHIRPath)


def elements(resource: dict) -> Iterator[Found]:
    """Every element of a resource with its rule, depth first, in document order (no
    descent into contained or nested resources: each resource is its own context)."""
    tables = model().tables
    yield from _elements(resource, tables[resource["resourceType"]], resource["resourceType"])


def _elements(obj: dict, table: Table, path: str) -> Iterator[Found]:
    for key, value in obj.items():
        rule = table.get(key)
        if rule is None:
            continue
        items = list(enumerate(value)) if rule.array and isinstance(value, list) else [(None, value)]
        for index, item in items:
            here = f"{path}.{key}" if index is None else f"{path}.{key}[{index}]"
            yield obj, key, rule, here
            if isinstance(item, dict) and rule.table is not None and not rule.is_resource:
                yield from _elements(item, rule.table, here)


def _first(resource: dict, test: Callable[[dict, str, Rule, str], bool]) -> Found | None:
    for found in elements(resource):
        if test(*found):
            return found
    return None


def unknown_element(resource: dict) -> tuple[dict, str] | None:
    # Into the first nested object when there is one, else the root: exercises both levels.
    found = _first(resource, lambda o, k, r, p: isinstance(o[k], dict) and r.table is not None
                   and not r.is_resource)
    if found is None:
        resource["madeUpElement"] = "x"
        return resource, f"{resource['resourceType']}.madeUpElement"
    obj, key, _, path = found
    obj[key]["madeUpElement"] = "x"
    return resource, f"{path}.madeUpElement"


def wrong_json_type(resource: dict) -> tuple[dict, str] | None:
    found = _first(resource, lambda o, k, r, p: r.is_primitive and not r.array and isinstance(o[k], str)
                   and k != "id")
    if found is None:
        return None
    obj, key, _, path = found
    obj[key] = {"value": obj[key]}  # an object where a string belongs
    return resource, path


def too_many(resource: dict) -> tuple[dict, str] | None:
    found = _first(resource, lambda o, k, r, p: not r.array and k not in ("id", "meta")
                   and not r.is_resource)
    if found is None:
        return None
    obj, key, _, path = found
    obj[key] = [obj[key], copy.deepcopy(obj[key])]  # max 1: an array of two
    return resource, path


def too_few(resource: dict) -> tuple[dict, str] | None:
    for obj, key, rule, path in elements(resource):
        if rule.min >= 1 and not path.endswith("]") and rule.choice is None:
            del obj[key]
            obj.pop(f"_{key}", None)
            return resource, path
        if rule.min >= 1 and rule.array and path.endswith("[0]") and isinstance(obj.get(key), list):
            del obj[key]
            obj.pop(f"_{key}", None)
            return resource, path[: path.rindex("[")]
    return None


_BAD = {"date": "2023-02-30", "dateTime": "2023-02-30T10:00:00+01:00", "instant": "2023-04-31T10:00:00Z",
        "time": "25:00:00", "code": " spaced  code", "id": "not an id!", "uri": "has space",
        "url": "has space", "canonical": "has space", "oid": "urn:oid:abc", "uuid": "urn:uuid:XYZ",
        "base64Binary": "not base64!", "positiveInt": 0, "unsignedInt": -1, "integer": 2**31}


def bad_primitive(resource: dict) -> tuple[dict, str] | None:
    # Impossible dates first (the issue's headline case), then other malformed primitives.
    # (not Resource.id: a create replaces it, so breaking it says nothing about the server)
    for codes in (("date", "dateTime", "instant"), tuple(_BAD)):
        found = _first(resource, lambda o, k, r, p: r.code in codes and not r.array and k in o
                       and p != f"{resource['resourceType']}.id")
        if found is not None:
            obj, key, rule, path = found
            obj[key] = _BAD[rule.code]
            return resource, path
    return None


def outside_required_binding(resource: dict) -> tuple[dict, str] | None:
    if terminology.check_code is None:
        return None
    for obj, key, rule, path in elements(resource):
        if (rule.code == "code" and rule.binding and rule.binding[0] == "required" and not rule.array
                and isinstance(obj[key], str)
                and terminology.check_code(rule.binding[1], None, "no-such-code-x") is False):
            obj[key] = "no-such-code-x"
            return resource, path
    return None


def violated_invariant(resource: dict) -> tuple[dict, str] | None:
    # per-1 (Period: start <= end) where there is a full Period; else dom-3 (a contained
    # resource nobody references), defined on every DomainResource.
    found = _first(resource, lambda o, k, r, p: r.code == "Period" and isinstance(o[k], dict)
                   and "start" in o[k] and "end" in o[k] and not r.array)
    if found is not None:
        obj, key, _, path = found
        obj[key] = {"start": "2020-01-02", "end": "2020-01-01"}
        return resource, path
    table = model().tables[resource["resourceType"]]
    if "contained" not in table:
        return None
    resource.setdefault("contained", []).append(
        {"resourceType": "Basic", "id": "unreferenced-x", "code": {"text": "x"}})
    return resource, resource["resourceType"]


def malformed_reference(resource: dict) -> tuple[dict, str] | None:
    found = _first(resource, lambda o, k, r, p: r.code == "Reference" and not r.array
                   and isinstance(o[k], dict) and isinstance(o[k].get("reference"), str))
    if found is None:
        found = _first(resource, lambda o, k, r, p: r.code == "Reference" and r.array
                       and isinstance(o[k], list) and isinstance(o[k][0], dict)
                       and isinstance(o[k][0].get("reference"), str) and p.endswith("[0]"))
        if found is None:
            return None
        obj, key, _, path = found
        obj[key][0]["reference"] = "not a reference"
        return resource, f"{path}.reference"
    obj, key, _, path = found
    obj[key]["reference"] = "not a reference"
    return resource, f"{path}.reference"


MUTATIONS: dict[str, Callable[[dict], tuple[dict, str] | None]] = {
    "unknown element": unknown_element,
    "wrong JSON type": wrong_json_type,
    "cardinality: too many": too_many,
    "cardinality: too few": too_few,
    "impossible date / malformed primitive": bad_primitive,
    "code outside required binding": outside_required_binding,
    "violated invariant": violated_invariant,
    "malformed reference": malformed_reference,
}


def mutate(resource: dict, kind: str) -> tuple[dict, str] | None:
    return MUTATIONS[kind](copy.deepcopy(resource))


def points_at(expression: str | None, path: str) -> bool:
    """The issue's expression is the mutated element or inside it."""
    return expression is not None and (expression == path or expression.startswith((path + ".", path + "[")))


# The issue code a class must be reported with, where that is what proves the right check
# fired (an invariant mutation must be caught by the invariant, not by something else).
EXPECTED_CODE = {"violated invariant": "invariant", "code outside required binding": "code-invalid"}


def caught(issues: list[Any], path: str, kind: str | None = None) -> bool:
    code = EXPECTED_CODE.get(kind or "")
    return any(issue.is_error and points_at(issue.expression, path) and (code is None or issue.code == code)
               for issue in issues)
