"""Builders for the FHIR data types the seed writes again and again.

Plain dicts, no validation: the seed builds resources valid by construction and checks a
sample with the validator (see writer.py). Types per http://hl7.org/fhir/R4/datatypes.html.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
UCUM = "http://unitsofmeasure.org"


def ref(type: str, id: str, display: str | None = None) -> dict[str, Any]:
    """A literal Reference (references.html#literal), relative to the server base."""
    reference: dict[str, Any] = {"reference": f"{type}/{id}"}
    if display:
        reference["display"] = display
    return reference


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    result = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept with one coding (and the display as text, as people read it)."""
    result: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text or display:
        result["text"] = text or display
    return result


def quantity(value: float | int, unit: str, ucum: str | None = None) -> dict[str, Any]:
    """A Quantity with a UCUM code (datatypes.html#Quantity); `unit` is what people read."""
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum or unit}


def identifier(system: str, value: str, use: str | None = None) -> dict[str, str]:
    result = {"system": system, "value": value}
    if use:
        result["use"] = use
    return result


@lru_cache(maxsize=8192)
def _offset(day: date) -> str:
    """Oslo's UTC offset at noon that day: +01:00 in winter, +02:00 in summer."""
    return datetime.combine(day, time(12), tzinfo=OSLO).isoformat()[-6:]


def instant(day: date, hour: int = 12, minute: int = 0) -> str:
    """A dateTime with seconds and Oslo's UTC offset on that day (datatypes.html#dateTime:
    a time needs a zone; summer and winter time both occur in the data). Cached per day:
    the seed writes a million of these."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00{_offset(day)}"


def period(start: date, end: date | None = None, *, hour: int = 9, hours: float = 0.25) -> dict[str, str]:
    """A Period with times: from `start` at `hour`, to `end` (a day) or `hours` later."""
    if end is None:
        minutes = hour * 60 + round(hours * 60)
        return {"start": instant(start, hour), "end": instant(start, min(minutes // 60, 23), minutes % 60)}
    return {"start": instant(start, hour), "end": instant(end, min(hour + 2, 23))}


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on `day` (a person born 29 February turns a year older on 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)
