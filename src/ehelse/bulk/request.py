"""The kick-off request of a Bulk Data export, parsed and checked.

Spec: FHIR Bulk Data Access v2.0.0, export.html#query-parameters
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html). Parameters come from the URL (GET) or
a Parameters body (POST); `patient` is POST only. What we do not support is a 400 saying
what is supported, rather than a silently different export.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ehelse.errors import BadRequest
from ehelse.fhir.resource_types import is_resource_type

# export.html#query-parameters: _outputFormat; servers SHALL support ndjson and its aliases.
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
INCLUDE_ASSOCIATED = ()  # no associated data (Provenance) is kept apart from the resources
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_KNOWN = {"_outputFormat", "_since", "_type", "_typeFilter", "_elements", "patient", "includeAssociatedData"}


@dataclass(slots=True)
class ExportRequest:
    level: str  # system | patient | group
    url: str  # the kick-off URL, for the manifest's `request`
    group: str | None = None
    since: str | None = None
    types: list[str] = field(default_factory=list)
    type_filters: dict[str, list[str]] = field(default_factory=dict)  # type -> search query strings
    elements: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)  # `patient` references, as ids

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ExportRequest":
        return cls(**data)


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def parameters(query: list[tuple[str, str]], body: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for key, value in query:
        found.setdefault(key, []).append(value)
    if body is not None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise BadRequest("POST $export takes a Parameters resource (export.html#bulk-data-kick-off-request)")
        for parameter in body.get("parameter") or []:
            name = parameter.get("name")
            value = next((v for k, v in parameter.items() if k.startswith("value")), None)
            if name:
                found.setdefault(name, []).append(value)
    return found


def parse(level: str, url: str, query: list[tuple[str, str]], body: Any, *, group: str | None = None,
          method: str = "GET") -> ExportRequest:
    params = parameters(query, body)
    unknown = sorted(set(params) - _KNOWN)
    if unknown:
        raise BadRequest(f"$export does not know the parameter(s) {', '.join(unknown)}; it takes "
                         f"{', '.join(sorted(_KNOWN))}", code="not-supported", expression=unknown[0])
    out = ExportRequest(level=level, url=url, group=group)
    for fmt in params.get("_outputFormat", []):
        if str(fmt) not in OUTPUT_FORMATS:
            raise BadRequest(f"_outputFormat {fmt!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}",
                             code="not-supported", expression="_outputFormat")
    since = params.get("_since", [])
    if len(since) > 1:
        raise BadRequest("_since may be given once", expression="_since")
    if since:
        if not isinstance(since[0], str) or not _INSTANT.match(since[0]):
            raise BadRequest(f"_since must be a FHIR instant with a time zone, e.g. 2024-01-01T00:00:00Z, "
                             f"not {str(since[0])[:40]!r}", code="value", expression="_since")
        out.since = _utc(since[0])
    out.types = _split([str(v) for v in params.get("_type", [])])
    for type in out.types:
        if not is_resource_type(type):
            raise BadRequest(f"_type names {type[:60]!r}, which is no FHIR R4 resource type", code="value",
                             expression="_type")
    for text in params.get("_typeFilter", []):
        type, mark, query_text = str(text).partition("?")
        if not mark or not is_resource_type(type):
            raise BadRequest(f"_typeFilter must be [type]?[search parameters], not {str(text)[:80]!r}",
                             code="value", expression="_typeFilter")
        if out.types and type not in out.types:
            raise BadRequest(f"_typeFilter names {type}, which _type leaves out", code="value", expression="_typeFilter")
        out.type_filters.setdefault(type, []).append(query_text)
    out.elements = _split([str(v) for v in params.get("_elements", [])])
    for element in out.elements:
        if not re.fullmatch(r"([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*", element):
            raise BadRequest(f"_elements entry {element[:60]!r} is not [type.]element", code="value",
                             expression="_elements")
    associated = _split([str(v) for v in params.get("includeAssociatedData", [])])
    if associated:
        raise BadRequest("includeAssociatedData is not supported by this server (supported values: none); "
                         "Provenance resources are exported with _type=Provenance", code="not-supported",
                         expression="includeAssociatedData")
    patients = params.get("patient", [])
    if patients:
        if method != "POST":
            raise BadRequest("The patient parameter is for POST kick-off requests (export.html#query-parameters)",
                             expression="patient")
        if level == "system":
            raise BadRequest("The patient parameter applies to Patient/$export and Group/[id]/$export",
                             expression="patient")
        for value in patients:
            reference = value.get("reference", "") if isinstance(value, dict) else ""
            kind, _, id = reference.partition("/")
            if kind != "Patient" or not id or "/" in id:
                raise BadRequest("patient must be a Reference to Patient/[id]", code="value", expression="patient")
            out.patients.append(id)
    return out


def _utc(instant: str) -> str:
    """The instant in our stored form (UTC, microseconds, Z), comparable as text with
    `meta.lastUpdated` (storage/stamp.py)."""
    from datetime import datetime, timezone

    text = re.sub(r"(\.\d{6})\d+", r"\1", instant).replace("Z", "+00:00")
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
