"""Comparison prefixes (eq ne gt lt ge le sa eb ap) as SQL over the index tables' ranges.

http://hl7.org/fhir/R4/search.html#prefix: a search value and a target value are both
ranges -- a date covers its precision (`2024` is all of 2024), a number its significant
figures (`100` is [99.5, 100.5)). With the search range [sl, sh) and the target range
[tl, th) (date_index.low/high):

  eq  the search range contains the target:    tl >= sl AND th <= sh
  ne  it does not:                              tl < sl OR th > sh
  gt  the target reaches above the search:     th > sh
  lt  the target reaches below it:              tl < sl
  ge  gt or eq:                                 th > sh OR (tl >= sl AND th <= sh)
  le  lt or eq:                                 tl < sl OR (tl >= sl AND th <= sh)
  sa  the target starts after the search ends: tl >= sh
  eb  the target ends before the search starts: th <= sl
  ap  the ranges overlap, the search range widened by 10 % of its distance from now
      (dates) or of the value (numbers), as the spec suggests

Numbers and quantities compare the target's value with the search range (search.html#number:
`eq100` finds 99.7 but not 100.6; `gt100` finds values above 100).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ehelse.errors import BadRequest
from ehelse.search.normalize import decimal_range
from ehelse.storage.sqlsearch import INSTANT_FORMAT, date_range

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIXED = re.compile(r"^([a-z]{2})(?=[-+0-9.])")


def split_prefix(value: str, code: str) -> tuple[str, str]:
    """`ge2024` -> ('ge', '2024'); no prefix -> 'eq'. An unknown prefix is 400."""
    match = _PREFIXED.match(value)
    if not match:
        if value[:2].isalpha():
            raise BadRequest(f"Unknown prefix {value[:2]!r} in {code}={value}", code="value", expression=code)
        return "eq", value
    prefix = match.group(1)
    if prefix not in PREFIXES:
        raise BadRequest(f"Unknown prefix {prefix!r} in {code}={value}", code="value", expression=code)
    return prefix, value[2:]


LOW_INSTANT = "0001-01-01T00:00:00.000000Z"
HIGH_INSTANT = "9999-12-31T23:59:59.999999Z"


def instant_range(text: str) -> tuple[str, str]:
    """sqlsearch.date_range, with the ends of the calendar clamped (`9999` has no next year
    in Python's datetime). Raises BadRequest for text that is no date."""
    try:
        low, high = date_range(text)
        return _pad(low), _pad(high)
    except (ValueError, OverflowError):
        if text.startswith("9999"):
            return "9999-01-01T00:00:00.000000Z", HIGH_INSTANT
        return LOW_INSTANT, "0001-01-02T00:00:00.000000Z"


def _pad(instant: str) -> str:
    """strftime writes years before 1000 without leading zeros ('1-01-01T...'), which
    would sort wrongly as text: pad the year to four digits."""
    year, rest = instant.split("-", 1)
    return instant if len(year) == 4 else year.zfill(4) + "-" + rest


def _format(moment: datetime) -> str:
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


def search_date_range(text: str, code: str) -> tuple[str, str]:
    try:
        return instant_range(text)
    except BadRequest:
        raise BadRequest(f"{code}: {text!r} is not a FHIR date, dateTime or instant", code="value",
                         expression=code) from None


def _widen(low: str, high: str) -> tuple[str, str]:
    """ap for dates: 10 % of the distance between the search value and now, at least a day."""
    lo = datetime.strptime(low, INSTANT_FORMAT).replace(tzinfo=timezone.utc)
    hi = datetime.strptime(high, INSTANT_FORMAT).replace(tzinfo=timezone.utc)  # padded years parse
    now = datetime.now(timezone.utc)
    gap = max(abs(now - lo), abs(now - hi)) * 0.1
    gap = max(gap, timedelta(days=1))
    try:
        wide_low = _format(lo - gap)
    except (OverflowError, ValueError):
        wide_low = LOW_INSTANT
    try:
        wide_high = _format(hi + gap)
    except (OverflowError, ValueError):
        wide_high = HIGH_INSTANT
    return wide_low, wide_high


def date_condition(prefix: str, low: str, high: str, x: str) -> tuple[str, list[Any]]:
    """SQL over `<x>.low`, `<x>.high` (date_index) for one prefixed date value."""
    lo, hi = f"{x}.low", f"{x}.high"
    contained = f"({lo} >= ? AND {lo} < ? AND {hi} <= ?)"  # `lo < sh` lets the index range on low
    if prefix == "eq":
        return contained, [low, high, high]
    if prefix == "ne":
        return f"({lo} < ? OR {hi} > ?)", [low, high]
    if prefix == "gt":
        return f"{hi} > ?", [high]
    if prefix == "lt":
        return f"{lo} < ?", [low]
    if prefix == "ge":
        return f"({hi} > ? OR {contained})", [high, low, high, high]
    if prefix == "le":
        return f"({lo} < ? OR {contained})", [low, low, high, high]
    if prefix == "sa":
        return f"{lo} >= ?", [high]
    if prefix == "eb":
        return f"{hi} <= ?", [low]
    wide_low, wide_high = _widen(low, high)  # ap
    return f"({lo} < ? AND {hi} > ?)", [wide_high, wide_low]


def parse_number(text: str, code: str) -> tuple[float, float, float]:
    try:
        return decimal_range(text)
    except ValueError:
        raise BadRequest(f"{code}: {text!r} is not a number", code="value", expression=code) from None


def number_condition(prefix: str, value: float, low: float, high: float, column: str) -> tuple[str, list[Any]]:
    """SQL over one numeric column (number_index.value, quantity_index.value or
    canonical_value) for one prefixed number whose significant figures give [low, high)."""
    if prefix == "eq":
        return f"({column} >= ? AND {column} < ?)", [low, high]
    if prefix == "ne":
        return f"({column} < ? OR {column} >= ?)", [low, high]
    if prefix in ("gt", "sa"):
        return f"{column} > ?", [value]
    if prefix in ("lt", "eb"):
        return f"{column} < ?", [value]
    if prefix == "ge":
        return f"{column} >= ?", [value]
    if prefix == "le":
        return f"{column} <= ?", [value]
    margin = abs(value) * 0.1 or (high - low)  # ap: within 10 %
    return f"({column} >= ? AND {column} <= ?)", [value - margin, value + margin]
