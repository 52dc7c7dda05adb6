"""Comparing instance values with a profile's fixed[x] and pattern[x] values.

http://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.fixed_x_ : a
fixed value must be matched exactly; a pattern (…pattern_x_) only in the parts the pattern
gives: every property of a pattern object must match, and every item of a pattern array
must match some item of the instance array. Numbers compare by value (1.50 == 1.5), since
the generated data went through a float-based JSON parser.
"""

from __future__ import annotations

from typing import Any

from ehelse.fhir.jsoncodec import Number


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Number):
        return float(value.text)
    return None


def matches_fixed(value: Any, fixed: Any) -> bool:
    if isinstance(fixed, dict):
        return (isinstance(value, dict) and value.keys() == fixed.keys()
                and all(matches_fixed(value[k], fixed[k]) for k in fixed))
    if isinstance(fixed, list):
        return (isinstance(value, list) and len(value) == len(fixed)
                and all(matches_fixed(v, f) for v, f in zip(value, fixed)))
    return _same_scalar(value, fixed)


def matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches_pattern(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(matches_pattern(v, p) for v in items) for p in pattern)
    return _same_scalar(value, pattern)


def _same_scalar(value: Any, expected: Any) -> bool:
    if type(expected) is str and type(value) is str:  # codes, systems, urls: the common case
        return value == expected
    if type(value) is bool or type(expected) is bool:
        return value is expected
    a, b = _number(value), _number(expected)
    if a is not None or b is not None:
        return a == b
    return value == expected


def get_path(value: Any, path: str) -> list[Any]:
    """The values at a simple dotted FHIRPath (`coding.code`, `url`, `$this`), arrays flattened;
    `name[x]`-free paths only (discriminator paths are simple, profiling.html#discriminator)."""
    current = value if isinstance(value, list) else [value]
    if path == "$this":
        return current
    for name in path.split("."):
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and name in item:
                child = item[name]
                if isinstance(child, list):
                    found.extend(child)
                else:
                    found.append(child)
        current = found
    return current
