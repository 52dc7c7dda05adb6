"""AuditEvent through the FHIR API, served from the audit log (audit/log.py).

AuditEvents are not stored as resources: read, vread, history and search of AuditEvent
render the log's rows on the fly (record.render), so what the API shows is exactly what
the chain covers, with no lag. Searchable by the common AuditEvent parameters
(http://hl7.org/fhir/R4/auditevent.html#search): `_id`, `patient`, `entity`, `agent`
(actor's FNR/HPR/name or token id, `agent:identifier` as system|value), `altid`,
`date` (recorded, with ge/le/gt/lt/eq), `type` (always `rest`), `subtype`
(the interaction), `outcome`, `action`; `_count`, `_offset`, `_total`, `_sort=-date`
(the only order: newest first, or `date` oldest first). Anything else is a 400 saying so.

Who sees which rows is the caller's to say (`visible`: patient id -> bool), decided by
access/repository.py; rows naming no patient are for admins and system clients only.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import orjson

from ehelse.audit import log
from ehelse.audit.events import ACTIONS
from ehelse.audit.record import render
from ehelse.errors import BadRequest
from ehelse.storage.protocol import Page, ResourceVersion, SearchQuery

_ID = re.compile(r"^([0-9a-f]{16})-(\d{1,18})$")
_DATE = re.compile(r"^(eq|ge|le|gt|lt|sa|eb)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]00:00)?)?)?)?)$")
Visible = Callable[[str], bool]  # may the caller see the records about this patient ('' = none)?


def _version(row: dict[str, Any]) -> ResourceVersion:
    event = render(row)
    return ResourceVersion("AuditEvent", event["id"], 1, row["recorded"], "POST", orjson.dumps(event))


def patient_of(version: ResourceVersion) -> str:
    """The patient a rendered AuditEvent is about ('' for none)."""
    event = orjson.loads(version.content or b"{}")
    return next((e["what"]["reference"][len("Patient/"):] for e in event.get("entity") or []
                 if (e.get("what") or {}).get("reference", "").startswith("Patient/")
                 and (e.get("role") or {}).get("code") == "1"), "")


def read(repo: Any, id: str, visible: Visible) -> ResourceVersion | None:
    match = _ID.match(id)
    if not match:
        return None
    rows = log.select(repo, log.LogQuery(ids=[(match.group(1), int(match.group(2)))]))
    return _version(rows[0]) if rows and visible(rows[0]["patient"]) else None


def _values(values: tuple[str, ...] | list[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


def _date(value: str) -> tuple[str, str]:
    match = _DATE.match(value)
    if not match:
        raise BadRequest(f"AuditEvent date {value!r} is not a date (e.g. ge2026-11-01)", code="value")
    op, instant = match.group(1) or "eq", match.group(2).replace("+00:00", "Z")
    return op, instant


def _filters(query: SearchQuery) -> log.LogQuery:
    """The search as a LogQuery; 400 for what the log cannot answer."""
    out = log.LogQuery(count=query.count, offset=query.offset)
    if query.compartment is not None:
        if query.compartment[0] != "Patient":
            return log.LogQuery(ids=[])
        out.patients = [query.compartment[1]]
    for param in query.params:
        name, values = param.name, _values(param.values)
        if name == "_id":
            ids = [_ID.match(v) for v in values]
            out.ids = [(m.group(1), int(m.group(2))) for m in ids if m]
        elif name == "patient":
            wanted = [v[len("Patient/"):] if v.startswith("Patient/") else v for v in values]
            out.patients = [p for p in wanted if p in out.patients] if out.patients is not None else wanted
        elif name == "entity":
            out.entities = values
        elif name in ("agent", "altid") and param.modifier in (None, "identifier"):
            out.actors = [v.split("|")[-1] for v in values]
        elif name == "date" and param.modifier is None:
            for value in values:  # date=2026-11-01 means within that day: a prefix match
                op, instant = _date(value)
                if op == "eq":
                    out.recorded += [("ge", instant), ("le", instant + "\uffff")]
                else:
                    out.recorded.append((op, instant + ("\uffff" if op in ("le", "gt") else "")))
        elif name == "subtype":
            out.interactions = [v.split("|")[-1] for v in values]
        elif name == "action":
            out.interactions = [i for i, a in ACTIONS.items() if a in values]
        elif name == "outcome":
            out.outcomes = [v.split("|")[-1] for v in values]
        elif name == "type":
            if any(v.split("|")[-1] != "rest" for v in values):
                return log.LogQuery(ids=[])  # every record is a RESTful operation
        else:
            raise BadRequest(f"AuditEvent search by {name!r} is not supported (the audit log answers _id, patient, "
                             "entity, agent, altid, date, type, subtype, action, outcome)", code="not-supported")
    if query.include:
        raise BadRequest("_include/_revinclude are not supported for AuditEvent", code="not-supported")
    for name, descending in query.sort:
        if name != "date":
            raise BadRequest("AuditEvent sorts by date only (_sort=-date or date)", code="not-supported")
        out.newest_first = descending
    if query.snapshot:
        out.recorded.append(("le", query.snapshot))
    return out


def search(repo: Any, query: SearchQuery, visible: Visible, patients: list[str] | None) -> Page:
    """A searchset page. `patients`: the only patients whose records the caller may see
    (None: every record, for admins and system clients)."""
    wanted = _filters(query)
    if patients is not None:
        allowed = [p for p in patients if visible(p)]
        wanted.patients = [p for p in wanted.patients if p in allowed] if wanted.patients is not None else allowed
    rows = log.select(repo, wanted)
    total = None
    if query.total != "none":
        if wanted.count and len(rows) < wanted.count and (rows or not wanted.offset):
            total = wanted.offset + len(rows)  # the last page: no count query needed
        else:
            total = log.count(repo, log.LogQuery(**{**wanted.__dict__, "count": None, "offset": 0}))
    return Page([_version(r) for r in rows], total)


# Parameters every resource type has (search.html#all) that the log can answer for a search
# across all types; `_lastUpdated` of a rendered AuditEvent is its `recorded`.
_COMMON = {"_id": "_id", "_lastUpdated": "date"}


def system_part(query: SearchQuery, count: int, offset: int) -> SearchQuery | None:
    """The AuditEvent share of a search across all types (http.html#search, no `_type` or a
    `_type` naming AuditEvent), or None when AuditEvents cannot match it: a parameter such
    as `_tag` or `_has` that no rendered AuditEvent satisfies, an `_include`, a compartment."""
    if query.include or query.compartment is not None or (query.types and "AuditEvent" not in query.types):
        return None
    params = []
    for param in query.params:
        name = _COMMON.get(param.name)
        if name is None or param.modifier is not None:
            return None
        params.append(type(param)(name, None, param.values))
    if any(name != "_lastUpdated" for name, _ in query.sort):
        return None
    return SearchQuery(params=params, count=count, offset=offset, total=query.total,
                       sort=[("date", d) for _, d in query.sort], snapshot=query.snapshot)
