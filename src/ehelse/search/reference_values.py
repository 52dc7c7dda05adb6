"""Value helpers of the reference evaluator (search/reference.py): what a FHIRPath result node
means to each search type, written from http://hl7.org/fhir/R4/search.html and kept apart from
the storage's own extraction on purpose.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

Range = tuple[datetime, datetime]
_MIN = datetime(1, 1, 1, tzinfo=timezone.utc)
_MAX = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "å": "a", "ð": "d", "þ": "th", "ł": "l", "đ": "d"})


def normalise(text: str) -> str:
    """search.html#string: case- and accent-insensitive; Norwegian letters fold to their
    base letters so `ostby` finds Østby, `asen` Åsen and `aero` Ærø."""
    folded = text.casefold().translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def split_escaped(value: str, separator: str) -> list[str]:
    """Split on unescaped `|` or `$`; `\\|`, `\\$`, `\\,` and `\\\\` are literal (search.html#escaping)."""
    parts, current, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            current.append(value[i + 1])
            i += 2
            continue
        if ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _instant_range(text: str, search: bool) -> Range | None:
    match = _DATE.match(text.strip())
    if not match:
        if search:
            raise ValueError(f"not a date: {text!r}")
        return None
    year, month, day, hour, minute, second, fraction, tz = match.groups()
    try:
        low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
    except ValueError:
        if search:
            raise
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        low -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    # The range a value of this precision covers (search.html#date: `2024` is all of 2024).
    if month is None:
        high = low.replace(year=low.year + 1)
    elif day is None:
        high = (low.replace(day=1) + timedelta(days=32)).replace(day=1)
    elif hour is None:
        high = low + timedelta(days=1)
    elif second is None:
        high = low + timedelta(minutes=1)
    elif not fraction:
        high = low + timedelta(seconds=1)
    else:
        high = low + timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
    return low, high


def date_range(node: Any, search: bool = False) -> Range | None:
    """[low, high) of a date, dateTime, instant, Period (open ends are unbounded) or Timing
    (first to last event); None when the node is none of these."""
    if isinstance(node, str):
        return _instant_range(node, search)
    if not isinstance(node, dict):
        return None
    if "start" in node or "end" in node:
        start = _instant_range(node["start"], False) if node.get("start") else None
        end = _instant_range(node["end"], False) if node.get("end") else None
        return (start[0] if start else _MIN), (end[1] if end else _MAX)
    if "event" in node or "repeat" in node:
        ranges = [r for r in (_instant_range(e, False) for e in node.get("event") or []) if r]
        bounds = (node.get("repeat") or {}).get("boundsPeriod")
        if bounds:
            ranges.append(date_range(bounds))
        if not ranges:
            return None
        return min(r[0] for r in ranges), max(r[1] for r in ranges)
    return None


def number_range(text: str) -> tuple[Decimal, Decimal]:
    """The implicit range of a number's precision: `100` -> [99.5, 100.5), `1.50` ->
    [1.495, 1.505) (search.html#number)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    half = Decimal(5).scaleb(value.as_tuple().exponent - 1)
    return value - half, value + half


_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def string_parts(node: Any) -> list[str]:
    """The strings a string parameter compares with: the node itself, or the parts of a
    HumanName or Address (search.html#string: any of the parts)."""
    if isinstance(node, str):
        return [node]
    if not isinstance(node, dict):
        return []
    keys = _NAME_PARTS if any(k in node for k in ("family", "given")) else \
        _ADDRESS_PARTS if any(k in node for k in _ADDRESS_PARTS) else list(node)
    out: list[str] = []
    for key in keys:
        value = node.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return out


def token_parts(node: Any) -> dict[str, list]:
    """What a token node offers: `codes` (system or None, code, display), `text` (strings
    for :text) and `of_type` (Identifier value, its type codings) -- search.html#token."""
    out: dict[str, list] = {"codes": [], "text": [], "of_type": []}
    if isinstance(node, bool):
        out["codes"].append((None, "true" if node else "false", None))
    elif isinstance(node, str):
        out["codes"].append((None, node, None))
    elif isinstance(node, dict):
        if "coding" in node or ("text" in node and "code" not in node and "value" not in node):
            for coding in node.get("coding") or []:
                out["codes"].append((coding.get("system"), coding.get("code"), coding.get("display")))
                out["text"].append((None, None, coding.get("display")))
            out["text"].append((None, None, node.get("text")))
        elif "code" in node:  # Coding (or a Quantity used as a token)
            out["codes"].append((node.get("system"), node.get("code"), node.get("display")))
            out["text"].append((None, None, node.get("display")))
        elif "value" in node:  # Identifier or ContactPoint
            out["codes"].append((node.get("system"), node.get("value"), None))
            types = [(c.get("system"), c.get("code")) for c in (node.get("type") or {}).get("coding") or []]
            out["of_type"].append((node.get("value"), types))
            out["text"].append((None, None, (node.get("type") or {}).get("text")))
    return out
