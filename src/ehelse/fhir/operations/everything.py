"""`Patient/[id]/$everything` (http://hl7.org/fhir/R4/patient-operation-everything.html).

The patient's compartment (the official Patient CompartmentDefinition: every resource that
refers to the patient through one of its compartment parameters, and the Patient itself),
plus what those resources refer to (Practitioner, Organization, Medication, Location, ...,
as `search.mode = include`), as a searchset Bundle paged like a search:

    start, end   care dates: a resource whose type has a `date` search parameter is kept
                 when its date overlaps [start, end]; resources without such a date stay
    _since       only resources last updated at or after this instant
    _type        only these resource types (comma separated)
    _count       page size; the `next` link pages on (`_page`, as search does)

One storage search does it: compartment `Patient/id` over all types, `_include=*`.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import BadRequest, NotFound
from ehelse.fhir import jsoncodec
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle, decode_page, embed, full_url, search_links
from ehelse.fhir.request import FhirResponse
from ehelse.fhir.resource_types import is_resource_type
from ehelse.fhir.search_request import page_size
from ehelse.search.include import IncludeSpec
from ehelse.storage.protocol import ResourceVersion, SearchParam, SearchQuery
from ehelse.storage.sqlsearch import date_range
from ehelse.storage.stamp import now_instant

_PARAMS = ("start", "end", "_since", "_type", "_count", "_page", "_format", "_pretty")


def _values(ctx: Context, parameters: Any) -> dict[str, str]:
    """URL parameters, or the Parameters resource of a POST."""
    values = {k: v for k, v in ctx.request.query}
    if isinstance(parameters, dict) and parameters.get("resourceType") == "Parameters":
        for p in parameters.get("parameter") or []:
            value = next((v for k, v in p.items() if k.startswith("value")), None)
            if isinstance(value, (str, int)):
                values[p.get("name", "")] = str(value)
    unknown = [k for k in values if k not in _PARAMS]
    if unknown:
        raise BadRequest(f"$everything does not take {', '.join(sorted(unknown))}", code="not-supported")
    return values


def _in_care_window(version: ResourceVersion, start: str | None, end: str | None) -> bool:
    if version.type == "Patient" or not (start or end):
        return True
    from ehelse.search.extract import index_rows

    dates = [row.values for row in index_rows(jsoncodec.loads(version.content, max_depth=10_000))
             if row.table == "date_index" and row.param == "date"]
    if not dates:
        return True  # no care date: part of the record whatever the window
    low = date_range(start)[0] if start else None
    high = date_range(end)[1] if end else None
    return any((high is None or d[0] < high) and (low is None or d[1] > low) for d in dates)


def everything(ctx: Context, type: str | None, id: str | None, parameters: Any) -> FhirResponse:
    if type != "Patient" or id is None:
        raise BadRequest("$everything runs on one Patient: Patient/[id]/$everything", code="not-supported")
    current = ctx.repo.read("Patient", id)
    if current is None or current.deleted:
        raise NotFound(f"Patient/{id} is not known")
    values = _values(ctx, parameters)
    types = [t.strip() for t in values.get("_type", "").split(",") if t.strip()]
    for t in types:
        if not is_resource_type(t):
            raise BadRequest(f"_type: {t!r} is not a resource type", code="value", expression="_type")
    for name in ("start", "end", "_since"):
        if values.get(name):
            date_range(values[name])  # 400 for a malformed date
    query = SearchQuery(count=page_size(list(values.items()), ctx.settings), total="accurate",
                        compartment=("Patient", id), types=types,
                        include=[IncludeSpec(None, None, None)])
    if values.get("_since"):
        query.params.append(SearchParam("_lastUpdated", None, ("ge" + values["_since"],)))
    if values.get("_page"):
        query.snapshot, query.offset, query.after = decode_page(values["_page"])
    else:
        query.snapshot = now_instant()
    page = ctx.repo.search(None, query)
    start, end = values.get("start"), values.get("end")
    entries = [{"fullUrl": full_url(ctx.base_url, v), "resource": embed(v), "search": {"mode": mode}}
               for mode, versions in (("match", page.entries), ("include", page.included))
               for v in versions if _in_care_window(v, start, end)]
    applied = [(k, v) for k, v in values.items() if k not in ("_page", "_count")]
    links = search_links(ctx.request, f"Patient/{id}/$everything", applied, count=query.count,
                         offset=query.offset, snapshot=query.snapshot,
                         last=page.entries[-1] if page.entries else None, keyset=True,
                         returned=len(page.entries), total=page.total)
    return FhirResponse(200, body=jsoncodec.dumps(bundle("searchset", page.total, links, entries)),
                        interaction="operation")
