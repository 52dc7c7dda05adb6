"""A quick answer to "would this profile node report nothing here?", for the profile pass.

`profiles.Checker` builds every value's FHIRPath and calls a method per element and slice so
that it can say where a rule is broken. Most values break nothing: a Synthea Patient's
geolocation extension is checked against its definition (url fixed, latitude and longitude
slices by url, each with a fixed url and one decimal) on every write. `accepts(node)` compiles,
once per profile node, a predicate over the JSON alone that is True only when the Checker
would report nothing for that object; when it is False, the Checker runs and reports as
always. So the predicate may be strict (False for some valid objects) but never lenient.

It covers the rules the checker applies (profiling.html): cardinality, fixed[x] values,
choice forms counted (`count_only` nodes), and slicing by `value`, `pattern` and `exists`
discriminators with slices of those kinds. Nodes with a pattern, maxLength, binding, type
profiles, a choice that is checked beyond its count, or other discriminators get no
predicate (None): the Checker handles them.
"""

from __future__ import annotations

from typing import Any, Callable

from ehelse.fhir.validation.matching import matches_fixed
from ehelse.fhir.validation.profile_tree import Constraint
from ehelse.fhir.validation.slicing import _expected, slice_matches

_SLICE_KINDS = ("value", "pattern", "exists")


def accepts(node: Constraint) -> Callable[[dict], bool] | None:
    """A predicate on one JSON object: True when Checker.children(node, [(object, path)])
    reports nothing, for any path; None when this node's rules are not covered."""
    found = node.accept
    if found is False:  # not built yet (Constraint.accept)
        found = node.accept = _children(node)
    return found


def _children(node: Constraint) -> Callable[[dict], bool] | None:
    """Checker.children on one object, as a predicate: Python generated for the node, each
    checked child's rule with its name, bounds and fixed value as constants."""
    if node.checked is None:
        return None
    namespace: dict[str, Any] = {}
    lines = ["def accept(item):"]
    for number, (name, child, bare) in enumerate(node.checked):
        low, high = child.min, child.max
        too_many = f" or {high} < count" if high >= 0 else ""
        if child.count_only and name == bare:
            lines += [f"    value = item.get({name!r})",
                      "    count = 0 if value is None else len(value) if type(value) is list else 1",
                      f"    if count < {low}{too_many}:",
                      "        return False"]
        elif child.count_only:
            # a choice: its forms counted, and each form one the profile allows
            size = len(bare)
            lines += ["    count = 0",
                      "    for key in item:",
                      f"        if key.startswith({bare!r}) and len(key) > {size} and key[{size}].isupper():"]
            if child.types:
                namespace[f"forms{number}"] = child.forms
                lines += [f"            if key[{size}:] not in forms{number}:",
                          "                return False"]
            lines += ["            count += 1",
                      f"    if count < {low}{too_many}:",
                      "        return False"]
        elif name != bare:
            return None  # a choice checked beyond its count
        elif (type(child.fixed) is str and child.pattern is None and child.max_length is None
              and child.binding is None and not child.type_profiles and not child.checked
              and not (child.slicing is not None and child.slices)):
            # a fixed string (an extension's url): matches_fixed is string equality here
            namespace[f"fixed{number}"] = child.fixed
            lines += [f"    value = item.get({name!r})",
                      "    if value is None:",
                      f"        count = 0",
                      "    elif type(value) is list:",
                      "        count = len(value)",
                      "        for one in value:",
                      f"            if type(one) is not str or one != fixed{number}:",
                      "                return False",
                      f"    elif type(value) is not str or value != fixed{number}:",
                      "        return False",
                      "    else:",
                      "        count = 1",
                      f"    if count < {low}{too_many}:",
                      "        return False"]
        else:
            check = _element(child)
            if check is None:
                return None
            namespace[f"check{number}"] = check
            lines += [f"    value = item.get({name!r})",
                      f"    if not check{number}(() if value is None else value if type(value) is list else (value,)):",
                      "        return False"]
    lines.append("    return True")
    exec(compile("\n".join(lines) + "\n", f"<accept {node.path}>", "exec"), namespace)  # noqa: S102
    return namespace["accept"]


def _element(node: Constraint) -> Callable[[Any], bool] | None:
    """Checker.element on the values of one element (a sequence), as a predicate."""
    if (node.pattern is not None or node.max_length is not None or node.binding is not None
            or node.type_profiles):
        return None
    fixed = node.fixed
    slicing = None
    if node.slicing is not None and node.slices:
        discriminators = node.slicing["d"]
        if not all(kind in _SLICE_KINDS for kind, _ in discriminators):
            return None
        checks = [_element(slice_) for slice_ in node.slices]
        if any(check is None for check in checks):
            return None
        slicing = (discriminators, node.slicing["rules"] == "closed", node.slices, checks,
                   _by_key(node.slices, discriminators))
    children = _children(node) if node.checked else None
    if node.checked and children is None:
        return None
    low, high, name = node.min, node.max, node.name

    def accept(values: Any) -> bool:
        count = len(values)
        if count < low or 0 <= high < count:
            return False
        if fixed is not None:
            for value in values:
                if not matches_fixed(value, fixed):
                    return False
        if slicing is not None and not _sliced(values, name, slicing):
            return False
        if children is not None:
            for value in values:
                if type(value) is dict and not children(value):
                    return False
        return True

    return accept


def _by_key(slices: list[Constraint], discriminators: list) -> tuple[str, dict[str, int]] | None:
    """For a slicing by the value of one plain key whose slices each expect a string there
    (extension slices by `url`): (the key, {expected string: first slice's index})."""
    if len(discriminators) != 1 or discriminators[0][0] not in ("value", "pattern"):
        return None
    key = discriminators[0][1]
    if "." in key or key == "$this":
        return None
    indexes: dict[str, int] = {}
    for index, slice_ in enumerate(slices):
        expected = _expected(slice_, key)
        if type(expected) is not str:
            return None
        indexes.setdefault(expected, index)
    return key, indexes


def _sliced(values: Any, name: str, slicing: tuple) -> bool:
    """Checker.slices as a predicate: each value in its first matching slice, none unmatched
    in a closed slicing, each slice's values accepted. A discriminator that cannot be
    evaluated leaves the slicing unchecked there, as the Checker does."""
    discriminators, closed, slices, checks, by_key = slicing
    matched: list[list] = [[] for _ in slices]
    for value in values:
        if by_key is not None:
            key, indexes = by_key
            found = value.get(key) if type(value) is dict else None
            if type(found) is str:
                # slice_matches' answer for a string at the key: the first slice expecting it
                index = indexes.get(found)
                if index is None:
                    if closed:
                        return False
                else:
                    matched[index].append(value)
                continue
        index = None
        for i, slice_ in enumerate(slices):
            # the path only matters for `type` discriminators, which have no predicate
            verdict = slice_matches(value, "", name, slice_, discriminators)
            if verdict is None:
                return True
            if verdict:
                index = i
                break
        if index is None:
            if closed:
                return False
        else:
            matched[index].append(value)
    for check, values_in in zip(checks, matched):
        if not check(values_in):
            return False
    return True
