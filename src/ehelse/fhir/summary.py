"""`_summary` and `_elements`: return a subset of a resource.

http://hl7.org/fhir/R4/search.html#summary and #elements. The subset is computed on
top-level elements only, from the isSummary / min flags of the R4 definitions
(resource_types.py). A subsetted resource carries the SUBSETTED tag in meta.tag so that
nobody mistakes it for the whole resource (search.html#summary).
"""

from __future__ import annotations

from typing import Any, Iterable

from ehelse.errors import BadRequest
from ehelse.fhir.request import FhirRequest
from ehelse.fhir.resource_types import mandatory_elements, summary_elements

SUMMARY_MODES = ("true", "text", "data", "count", "false")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
_ALWAYS = ("resourceType", "id", "meta")


def requested_subset(request: FhirRequest) -> tuple[str | None, list[str] | None]:
    """(summary mode or None, element names or None) from the query; 400 on a bad mode."""
    summary = request.param("_summary")
    if summary is not None and summary not in SUMMARY_MODES:
        raise BadRequest(f"_summary must be one of {', '.join(SUMMARY_MODES)}, got {summary!r}",
                         code="value", expression="_summary")
    elements = request.param("_elements")
    names = None
    if elements is not None:
        names = [n.strip() for n in elements.split(",") if n.strip()]
        # Elements given as Type.name (allowed in search.html#elements) are reduced to name.
        names = [n.split(".", 1)[1] if "." in n else n for n in names]
    if summary == "false":
        summary = None
    return summary, names


def _matcher(names: Iterable[str]):
    exact: set[str] = set()
    choices: list[str] = []
    for name in names:
        if name.endswith("[x]"):
            choices.append(name[:-3])
        else:
            exact.add(name)

    def keep(key: str) -> bool:
        base = key[1:] if key.startswith("_") else key  # `_birthDate` travels with birthDate
        if base in exact:
            return True
        return any(base.startswith(c) and len(base) > len(c) and base[len(c)].isupper() for c in choices)

    return keep


def apply_subset(resource: dict[str, Any], summary: str | None, elements: list[str] | None) -> dict[str, Any]:
    """The resource reduced per `_summary` (true/text/data) or `_elements`; unchanged otherwise."""
    type_ = resource.get("resourceType", "")
    if summary == "true":
        keep = _matcher([*summary_elements(type_), *mandatory_elements(type_)])
    elif summary == "text":
        keep = _matcher(["text", *mandatory_elements(type_)])
    elif summary == "data":
        keep = _matcher([k for k in resource if k not in ("text", "_text")])
    elif elements is not None:
        # search.html#elements: mandatory elements come along so the result stays valid.
        keep = _matcher([*elements, *mandatory_elements(type_)])
    else:
        return resource
    subset = {k: v for k, v in resource.items() if k in _ALWAYS or keep(k)}
    if len(subset) == len(resource):
        return resource
    meta = dict(subset.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), dict(SUBSETTED)]
    subset["meta"] = meta
    ordered = {k: subset[k] for k in _ALWAYS if k in subset}
    ordered.update(subset)
    return ordered
