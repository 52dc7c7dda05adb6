"""Checks for FHIR R4 primitive values, one function per type: value -> message or None.

http://hl7.org/fhir/R4/datatypes.html#primitive gives each type's JSON form and regex (the
regexes here are the ones in the R4 StructureDefinitions, tested against the generated data
in tests). Beyond the regexes: a date must exist on the calendar (2020-02-30 does not),
integers are 32-bit, strings are non-empty and at most 1 MB (datatypes.html#string),
and decimals are checked on the number's text as the client sent it (json.html#decimal).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ehelse.fhir.jsoncodec import Number

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"

REGEX = {
    "date": _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?",
    "dateTime": _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T" + _TIME + _ZONE + r")?)?)?",
    "instant": _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _ZONE,
    "time": _TIME,
    "decimal": r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?",
    "id": r"[A-Za-z0-9\-\.]{1,64}",
    "code": r"[^\s]+(\s[^\s]+)*",
    "oid": r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+",
    "uuid": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "uri": r"\S*",
    "base64Binary": r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+",
}
_MATCH = {name: re.compile(pattern).fullmatch for name, pattern in REGEX.items()}

# Equivalent, faster forms of the date regexes (no year alternation: "four digits, not 0000"
# is what the spec's ([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000) says).
# tests/fhir/validation/test_primitive_checks.py checks they accept exactly what the spec's do.
_FAST_YEAR = r"(?!0000)[0-9]{4}"
FAST_REGEX = {name: REGEX[name].replace(_YEAR, _FAST_YEAR, 1) for name in ("date", "dateTime", "instant")}
_MATCH.update({name: re.compile(pattern).fullmatch for name, pattern in FAST_REGEX.items()})

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_MAX_STRING = 1024 * 1024
MAX_STRING = _MAX_STRING  # datatypes.html#string: at most 1 MB (structure.Walk inlines the check)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_date(text: str) -> bool:
    """The YYYY-MM-DD prefix names a day that exists (regexes allow 2020-02-30)."""
    if len(text) < 10 or text[8:10] < "29":
        return True  # every month has days 01-28 (the regex has checked the digits)
    month = int(text[5:7])
    day = int(text[8:10])
    if day <= _DAYS[month - 1]:
        return month != 2 or day != 29 or _leap(int(text[0:4]))
    return False


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _string(value: Any) -> str | None:
    if type(value) is not str:
        return f"expected a JSON string, got {_json_type(value)}"
    if not value:
        return "a string must not be empty"
    if len(value) > _MAX_STRING:
        return "a string must not be longer than 1 MB"
    return None


# Values already found valid, per type: real data repeats its codes, systems and URLs
# ("final", "http://loinc.org") endlessly, and a set lookup is far cheaper than a regex.
# Bounded: when full it is emptied (common values come straight back), so neither hostile
# input nor a stream of unique ids can grow it without limit; only valid values enter.
_KNOWN_LIMIT = 20_000
KNOWN_LIMIT = _KNOWN_LIMIT
# Only values up to this length are remembered: the sets must not hold on to large texts
# (a megabyte-long uri would otherwise stay in memory until the set is emptied).
KNOWN_LENGTH = 256
_KNOWN_SETS: list[set | dict] = []


def clear_known() -> None:
    """Forget the known-valid values (for benchmarks that must start cold, and when the
    value sets change: bindings.register_valuesets)."""
    for known in _KNOWN_SETS:
        known.clear()


def known_set() -> set:
    """A new set of known-valid values, emptied by clear_known (the caller bounds it by
    KNOWN_LIMIT, as the checkers here do)."""
    known: set = set()
    _KNOWN_SETS.append(known)
    return known


def register_known(cache: set | dict) -> None:
    """Have clear_known empty another cache of known-valid values too."""
    _KNOWN_SETS.append(cache)


def _pattern(name: str, expected: str) -> Callable[[Any], str | None]:
    match = _MATCH[name]
    known: set[str] = set()
    _KNOWN_SETS.append(known)

    def check(value: Any) -> str | None:
        if type(value) is not str:
            return f"expected a JSON string ({expected}), got {_json_type(value)}"
        if value in known:
            return None
        if match(value) is None:
            return f"{value!r} is not a valid {name}: expected {expected}"
        if len(value) <= KNOWN_LENGTH:
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known.add(value)
        return None

    check.known = known  # structure's generated walk tests this set before calling
    return check


def _dated(name: str, expected: str) -> Callable[[Any], str | None]:
    match = _MATCH[name]
    known: set[str] = set()
    _KNOWN_SETS.append(known)

    def check(value: Any) -> str | None:
        if type(value) is not str:
            return f"expected a JSON string ({expected}), got {_json_type(value)}"
        if value in known:
            return None
        if match(value) is None:
            return f"{value!r} is not a valid {name}: expected {expected}"
        if not _real_date(value):
            return f"{value!r} is not a valid {name}: that day does not exist"
        if len(value) <= KNOWN_LENGTH:
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known.add(value)
        return None

    check.known = known  # structure's generated walk tests this set before calling
    return check


_known_uris: set[str] = set()
_KNOWN_SETS.append(_known_uris)


def _uri(value: Any) -> str | None:
    if type(value) is not str:
        return f"expected a JSON string (a URI), got {_json_type(value)}"
    if value in _known_uris:
        return None
    if not value or _MATCH["uri"](value) is None:
        return f"{value!r} is not a valid uri: expected no whitespace and at least one character"
    if len(value) <= KNOWN_LENGTH:
        if len(_known_uris) >= _KNOWN_LIMIT:
            _known_uris.clear()
        _known_uris.add(value)
    return None


_uri.known = _known_uris  # structure's generated walk tests this set before calling


def _boolean(value: Any) -> str | None:
    if type(value) is not bool:
        return f"expected JSON true or false, got {_json_type(value)}"
    return None


def _integer_in(low: int, high: int, name: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if type(value) is not int:
            return f"expected a JSON integer ({name}), got {_json_type(value)}"
        if value < low or value > high:
            return f"{value} is out of range for {name} ({low}..{high})"
        return None

    return check


def _decimal(value: Any) -> str | None:
    kind = type(value)
    if kind is int or kind is float:
        # jsoncodec keeps a float only when repr(float) is the exact text, and the repr of a
        # finite float always has decimal syntax (the parser rejects NaN and Infinity)
        return None
    if kind is Number:
        text = value.text
    else:
        return f"expected a JSON number (decimal), got {_json_type(value)}"
    if _MATCH["decimal"](text) is None:
        return f"{text} is not a valid decimal"
    return None


_DIV_START = re.compile(r"\s*<div").match  # \s: str.isspace(), as lstrip() strips


def _xhtml(value: Any) -> str | None:
    if type(value) is not str:
        return f"expected a JSON string (xhtml), got {_json_type(value)}"
    if _DIV_START(value) is None:  # value.lstrip().startswith("<div"), without copying the text
        return "narrative xhtml must be a <div> element (narrative.html#xhtml)"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Number)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


json_type = _json_type

CHECKERS: dict[str, Callable[[Any], str | None]] = {
    "boolean": _boolean,
    "integer": _integer_in(_INT32_MIN, _INT32_MAX, "integer"),
    "positiveInt": _integer_in(1, _INT32_MAX, "positiveInt"),
    "unsignedInt": _integer_in(0, _INT32_MAX, "unsignedInt"),
    "decimal": _decimal,
    "string": _string,
    "markdown": _string,
    "xhtml": _xhtml,
    "uri": _uri,
    "url": _uri,
    "canonical": _uri,
    "id": _pattern("id", "1-64 of A-Z a-z 0-9 - ."),
    "code": _pattern("code", "no leading, trailing or double whitespace"),
    "oid": _pattern("oid", "urn:oid:1.2.3..."),
    "uuid": _pattern("uuid", "urn:uuid: and a lower-case UUID"),
    "base64Binary": _pattern("base64Binary", "base64 text"),
    "time": _pattern("time", "hh:mm:ss"),
    "date": _dated("date", "YYYY, YYYY-MM or YYYY-MM-DD"),
    "dateTime": _dated("dateTime", "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone"),
    "instant": _dated("instant", "YYYY-MM-DDThh:mm:ss with a time zone"),
}
