"""`Patient/[id]/$everything` and `Patient/$everything`
(http://hl7.org/fhir/R4/patient-operation-everything.html).

The patient's compartment (the official Patient CompartmentDefinition: every resource that
refers to the patient through one of its compartment parameters, and the Patient itself),
plus what those resources refer to (Practitioner, Organization, Medication, Location, ...,
as `search.mode = include`), as a searchset Bundle paged like a search:

    start, end   care dates: a resource whose type has a `date` search parameter is kept
                 when its date overlaps [start, end]; resources without such a date stay
    _since       only resources last updated at or after this instant
    _type        only these resource types (comma separated)
    _count       page size; the `next` link pages on (`_page`, as search does)

One storage search does one record: compartment `Patient/id` over all types, `_include=*`.

At type level (no nominated patient) the spec's list of patients is "all patients that the
user associated with the request has access to": the records of every Patient the caller may
see, one after the other, through the same compartment search with the same parameters.
Which patients (SecuredRepository.patients_in_reach): every one for admins and system
clients, a citizen's own and those they act for, personnel's care relationships (never
emergency access, which is opened for one named patient). Each record is read through the
caller's repository as a compartment search of its own, so the access rules and the audit
(one record per patient touched) are the instance level's. The result can be the whole
database, so it is paged as the spec allows ("clients may choose to page through the result
set (or servers may require this)"): `_count` matches a page, the `next` link's token holds
the snapshot, the last patient finished and where the current record goes on. No `total`
(it would cost a count of every record for each page). A resource in two records (an
Observation of one patient performed by another) comes with each record, once per page.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any, Iterator

import orjson

from ehelse.errors import BadRequest, NotFound
from ehelse.fhir import jsoncodec
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle, decode_page, embed, full_url, page_link, search_links
from ehelse.fhir.request import FhirResponse
from ehelse.fhir.resource_types import is_resource_type
from ehelse.fhir.search_request import page_size
from ehelse.search.include import IncludeSpec
from ehelse.storage.protocol import Page, ResourceVersion, SearchParam, SearchQuery
from ehelse.storage.sqlsearch import date_range
from ehelse.storage.stamp import now_instant

_PARAMS = ("start", "end", "_since", "_type", "_count", "_page", "_format", "_pretty")
# Patients looked at for one type-level page at most: with _type or _since most records may
# add nothing, and one page must not walk the whole population (its `next` link goes on).
PATIENTS_PER_PAGE = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,4096}")


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


def _checked(ctx: Context, parameters: Any) -> tuple[dict[str, str], list[str]]:
    """The parameters and the `_type` list; 400 for a value that is not one."""
    values = _values(ctx, parameters)
    types = [t.strip() for t in values.get("_type", "").split(",") if t.strip()]
    for t in types:
        if not is_resource_type(t):
            raise BadRequest(f"_type: {t!r} is not a resource type", code="value", expression="_type")
    for name in ("start", "end", "_since"):
        if values.get(name):
            date_range(values[name])  # 400 for a malformed date
    return values, types


def _record_query(id: str, values: dict[str, str], types: list[str], count: int, total: str) -> SearchQuery:
    """The search for one patient's record (its compartment and what that refers to)."""
    query = SearchQuery(count=count, total=total, compartment=("Patient", id), types=types,
                        include=[IncludeSpec(None, None, None)])
    if values.get("_since"):
        query.params.append(SearchParam("_lastUpdated", None, ("ge" + values["_since"],)))
    return query


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


def _entries(ctx: Context, page: Page, values: dict[str, str], seen: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Bundle entries of one record's page; a resource already in the Bundle (a match in
    two records, a Practitioner both refer to) is not repeated."""
    start, end = values.get("start"), values.get("end")
    entries = []
    for mode, versions in (("match", page.entries), ("include", page.included)):
        for v in versions:
            if (v.type, v.id) in seen or not _in_care_window(v, start, end):
                continue
            seen.add((v.type, v.id))
            entries.append({"fullUrl": full_url(ctx.base_url, v), "resource": embed(v), "search": {"mode": mode}})
    return entries


def everything(ctx: Context, type: str | None, id: str | None, parameters: Any) -> FhirResponse:
    if type != "Patient":
        raise BadRequest("$everything runs on Patients: Patient/$everything or Patient/[id]/$everything",
                         code="not-supported")
    if id is None:
        return _all_patients(ctx, *_checked(ctx, parameters))
    current = ctx.repo.read("Patient", id)
    if current is None or current.deleted:
        raise NotFound(f"Patient/{id} is not known")
    values, types = _checked(ctx, parameters)
    query = _record_query(id, values, types, page_size(list(values.items()), ctx.settings), "accurate")
    if values.get("_page"):
        query.snapshot, query.offset, query.after = decode_page(values["_page"])
    else:
        query.snapshot = now_instant()
    page = ctx.repo.search(None, query)
    entries = _entries(ctx, page, values, set())
    applied = [(k, v) for k, v in values.items() if k not in ("_page", "_count")]
    links = search_links(ctx.request, f"Patient/{id}/$everything", applied, count=query.count,
                         offset=query.offset, snapshot=query.snapshot,
                         last=page.entries[-1] if page.entries else None, keyset=True,
                         returned=len(page.entries), total=page.total)
    return FhirResponse(200, body=jsoncodec.dumps(bundle("searchset", page.total, links, entries)),
                        interaction="operation")


# -- type level ------------------------------------------------------------------------------
Key = tuple[str, str, str]  # (last_updated, type, id): a search's keyset (search/execute.py)


def _key(version: ResourceVersion) -> Key:
    return (version.last_updated, version.type, version.id)


def _encode(snapshot: str, before: str, current: str | None, after: Key | None) -> str:
    """The page token: the snapshot, the id of the last patient finished, and the patient
    whose record the page goes on with, from after which of its rows."""
    payload = [snapshot, before, current or "", list(after or ())]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode(token: str) -> tuple[str, str, str | None, Key | None]:
    try:
        if not _TOKEN.fullmatch(token):  # it goes back out in the self link as it came
            raise ValueError
        snapshot, before, current, after = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(snapshot, str) and isinstance(before, str) and isinstance(current, str)
                and isinstance(after, list) and len(after) in (0, 3) and all(isinstance(x, str) for x in after)):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest("_page is not a page token of this server", code="value", expression="_page") from None
    return snapshot, before, current or None, tuple(after) or None  # type: ignore[return-value]


def _patients_after(ctx: Context, before: str, within: frozenset[str] | None) -> Iterator[str]:
    """The ids of the caller's patients after `before`, in id order. By id, not by last
    update: a Patient updated during a paged walk would otherwise move past the snapshot
    and its whole record drop out (or come twice). Admins and system clients: every live
    Patient, from the repository's keyset walk (storage: iter_current); others: their
    patients, each read through their repository (audited, deleted ones skipped)."""
    if within is None:
        inner = getattr(ctx.repo, "inner", ctx.repo)
        for version in inner.iter_current("Patient", after=before):
            yield version.id
        return
    for id in sorted(within):
        if id > before:
            current = ctx.repo.read("Patient", id)
            if current is not None and not current.deleted:
                yield id


def _all_patients(ctx: Context, values: dict[str, str], types: list[str]) -> FhirResponse:
    """GET Patient/$everything: the records of every patient the caller may see, paged."""
    count = page_size(list(values.items()), ctx.settings)
    if values.get("_page"):
        snapshot, before, current, after = _decode(values["_page"])
    else:
        snapshot, before, current, after = now_instant(), "", None, None
    reach = getattr(ctx.repo, "patients_in_reach", None)  # the caller's (access/repository.py)
    within = reach() if callable(reach) else None  # a repository without an actor: everyone
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    returned, next_page, looked = 0, None, 0
    # At most PATIENTS_PER_PAGE records a page; no patient beyond them is read (or audited).
    patients = itertools.islice(_patients_after(ctx, before, within), PATIENTS_PER_PAGE if count > 0 else 0)
    for patient_id in patients:
        looked += 1
        if patient_id != current:  # not the record the token goes on with (it was deleted): from its start
            after = None
        wanted = count - returned
        query = _record_query(patient_id, values, types, wanted, "none")
        query.snapshot, query.after = snapshot, after
        page = ctx.repo.search(None, query)
        returned += len(page.entries)
        entries += _entries(ctx, page, values, seen)
        if len(page.entries) == wanted:  # the page is full; this record may go on
            next_page = _encode(snapshot, before, patient_id, _key(page.entries[-1]))
            break
        before, current, after = patient_id, None, None
    if next_page is None and looked == PATIENTS_PER_PAGE:  # the next page goes on after them
        next_page = _encode(snapshot, before, None, None)
    applied = [(k, v) for k, v in values.items() if k not in ("_page", "_count")]
    links = [{"relation": "self", "url": page_link(ctx.request, "Patient/$everything", applied, count,
                                                   values.get("_page"))},
             {"relation": "first", "url": page_link(ctx.request, "Patient/$everything", applied, count)}]
    if next_page is not None:
        links.append({"relation": "next", "url": page_link(ctx.request, "Patient/$everything", applied, count,
                                                           next_page)})
    return FhirResponse(200, body=jsoncodec.dumps(bundle("searchset", None, links, entries)),
                        interaction="operation")
