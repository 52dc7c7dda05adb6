"""Slicing: which slice does an item belong to? (profiling.html#slicing)

A slice is recognised by its discriminators (profiling.html#discriminator): `value` and
`pattern` compare the item's value at a path with the fixed/pattern value the slice sets
there; `exists` asks whether the path is present; `type` on a `value[x]` compares the JSON
form (valueQuantity). `profile` discriminators would need a validation per item per
candidate profile; they make the slicing "cannot evaluate" (None), and it is not checked.
"""

from __future__ import annotations

from typing import Any

from ehelse.fhir.validation.matching import get_path, matches_pattern
from ehelse.fhir.validation.profile_tree import Constraint


def slice_matches(value: Any, path: str, name: str, slice_: Constraint,
                   discriminators: list) -> bool | None:
    """Does `value` belong to `slice_`? None when a discriminator cannot be evaluated."""
    where = path
    for kind, path in discriminators:
        if kind in ("value", "pattern"):
            expected = _expected(slice_, path)
            if expected is None:
                return None
            if type(expected) is str and type(value) is dict and type(value.get(path)) is str:
                # a string at a plain key (`url` of an extension slice): what get_path and
                # matches_pattern below would compare, without building the list
                if value[path] != expected:
                    return False
                continue
            actual = get_path(value, path)
            if not any(matches_pattern(a, expected) for a in actual):
                return False
        elif kind == "exists":
            target = _node_at(slice_, path)
            if target is None:
                return None
            present = bool(get_path(value, path))
            if present != (target.min > 0):
                return False
        elif kind == "type" and path == "$this" and name.endswith("[x]"):
            # value[x] sliced by type: the JSON key (valueQuantity) names the type
            if not slice_.types:
                return None
            form = where.rsplit(".", 1)[-1][len(name) - 3:]
            if form not in slice_.forms:
                return False
        else:
            return None  # profile discriminators need a second validation per item
    return True


def _node_at(node: Constraint, path: str) -> Constraint | None:
    if path == "$this":
        return node
    for name in path.split("."):
        node = node.children.get(name) or node.children.get(f"{name}[x]")
        if node is None:
            return None
    return node


def _expected(node: Constraint, path: str) -> Any:
    """The fixed or pattern value a slice requires at `path` (profiling.html#discriminator),
    found once per slice and path."""
    try:
        return node.expected[path]
    except KeyError:
        found = node.expected[path] = _find_expected(node, path)
        return found


def _find_expected(node: Constraint, path: str) -> Any:
    if path == "url" and "url" not in node.children and node.type_profiles:
        return node.type_profiles[0]  # an extension slice: its definition's url
    return _expected_at(node, [] if path == "$this" else path.split("."))


def _expected_at(node: Constraint, rest: list[str]) -> Any:
    found = node.fixed if node.fixed is not None else node.pattern
    if found is not None:
        for name in rest:  # the remaining path inside the fixed/pattern value
            if type(found) is list:
                found = found[0] if found else None
            if type(found) is not dict:
                return None
            found = found.get(name)
        return found
    if not rest:
        return None
    child = node.children.get(rest[0]) or node.children.get(f"{rest[0]}[x]")
    if child is None:
        return None
    expected = _expected_at(child, rest[1:])
    if expected is None:
        # The value may be fixed inside a slice of the child (bp: component.code.coding:SBPCode)
        for slice_ in child.slices:
            expected = _expected_at(slice_, rest[1:])
            if expected is not None:
                break
    return expected
