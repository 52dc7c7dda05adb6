"""Reading FHIR elements for people: the text of a CodeableConcept, a Period's dates, the
clinical status of a Condition... Small pure functions the page modules share."""

from __future__ import annotations

from typing import Any


def concept(value: dict[str, Any] | list | None) -> str:
    """CodeableConcept.text, else the first coding's display, else its code
    (datatypes.html#CodeableConcept: text is what the user saw or meant)."""
    if isinstance(value, list):
        return ", ".join(filter(None, (concept(v) for v in value)))
    if not value:
        return ""
    if value.get("text"):
        return value["text"]
    for coding in value.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return coding.get("display") or coding["code"]
    return ""


def code_of(value: dict[str, Any] | None, system: str | None = None) -> str | None:
    for coding in (value or {}).get("coding") or []:
        if system is None or coding.get("system") == system:
            return coding.get("code")
    return None


def when(resource: dict[str, Any], *names: str) -> str:
    """The first of the named date elements present; a Period gives its start."""
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if value:
            return value
    return ""


def status_code(value: dict[str, Any] | None) -> str:
    return code_of(value) or ""


def quantity_value(observation: dict[str, Any]) -> float | None:
    value = (observation.get("valueQuantity") or {}).get("value")
    return float(value) if isinstance(value, (int, float)) else None


def component(observation: dict[str, Any], loinc: str) -> float | None:
    for part in observation.get("component") or []:
        if code_of(part.get("code")) == loinc:
            value = (part.get("valueQuantity") or {}).get("value")
            return float(value) if isinstance(value, (int, float)) else None
    return None


def reference_range(observation: dict[str, Any]) -> tuple[float | None, float | None]:
    for found in observation.get("referenceRange") or []:
        low, high = (found.get("low") or {}).get("value"), (found.get("high") or {}).get("value")
        if low is not None or high is not None:
            return low, high
    return None, None


def out_of_range(observation: dict[str, Any]) -> bool:
    value = quantity_value(observation)
    low, high = reference_range(observation)
    return value is not None and ((low is not None and value < low) or (high is not None and value > high))


def newest_first(resources: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return sorted(resources, key=lambda r: when(r, *names), reverse=True)
