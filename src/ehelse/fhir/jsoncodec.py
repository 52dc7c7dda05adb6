"""FHIR JSON in and out, keeping every number exactly as the client wrote it.

http://hl7.org/fhir/R4/json.html#primitive: a decimal's precision is part of its value (`1.50`
is not `1.5`). Python floats forget that, so a number whose shortest float form differs
from its text (`72.50`, `1e3`, 20 significant digits) is kept as a `Number` holding the
original text, which `dumps` writes out verbatim (as an orjson.Fragment). Numbers that round-trip stay
plain `float`/`int`, so most resources pay nothing for this.

Readers of parsed resources: a JSON number is `int`, `float`
or `Number` (use `is_number` / `number_text`). A boolean is `bool` (check it before int!).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

from ehelse.errors import BadRequest

_INT64 = 2**63


class Number:
    """A JSON number whose exact text a float would lose (e.g. `1.50`)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __float__(self) -> float:
        return float(self.text)

    def __repr__(self) -> str:
        return f"Number({self.text!r})"


def _default(value: Any) -> Any:
    if isinstance(value, Number):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _parse_float(text: str) -> Any:
    value = float(text)
    if repr(value) == text:
        return value
    return Number(text)


def _parse_int(text: str) -> Any:
    value = int(text)
    if -_INT64 <= value < _INT64:
        return value
    return Number(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int, parse_constant=_reject_constant)


def loads(data: bytes | str, *, max_depth: int = 64) -> Any:
    """Parse request JSON. Raises BadRequest (400, OperationOutcome) on anything malformed."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"Body is not valid UTF-8 (byte {exc.start})", code="structure") from None
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    if _too_deep(text, max_depth):
        raise BadRequest(f"JSON is nested deeper than {max_depth} levels", code="structure")
    try:
        value = _decoder.decode(text)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON: {exc}", code="structure") from None
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        # RFC 8259 section 8.2: an escape of half a surrogate pair is grammatical JSON but no
        # Unicode text; FHIR's JSON is UTF-8 (json.html), which cannot hold it, nor can the
        # stored resource, the audit record or a response that quotes it. Refused here, for
        # every body at once, instead of failing later in whatever first encodes it (a 500).
        raise BadRequest("Body holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair): "
                         "not valid Unicode", code="structure")
    return value


# Python's decoder joins an escaped pair (\ud83d\ude00) into one character; only a half
# left alone stays a surrogate. Bodies without such an escape (nearly all) skip the walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# A JSON string, written "unrolled" (runs of plain characters between escapes): the same
# strings as "(?:[^"\\]|\\.)*", found 3x faster as `re` does not step through an alternation
# once per character (0.53 -> 0.17 s over the 22 Synthea bundles).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"{": 1, "[": 1, "}": -1, "]": -1}


def _too_deep(text: str, max_depth: int) -> bool:
    # Cheap upper bound first: brackets inside strings count too, so only a text that might be
    # too deep is scanned properly. The scan drops strings and everything but brackets with
    # regular expressions and sums the steps in C: a character loop in Python took half the
    # time of importing a 1 MB transaction Bundle.
    if text.count("{") + text.count("[") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise to compact (or indented) UTF-8 JSON; `Number`s are written verbatim."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if pretty else 0)


def is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or isinstance(value, Number)


def number_text(value: Any) -> str:
    """The number as the client wrote it."""
    if isinstance(value, Number):
        return value.text
    return repr(value) if isinstance(value, float) else str(value)
