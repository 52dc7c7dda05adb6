"""One audit record as a compact log row, and the FHIR AuditEvent it stands for.

The trail stores rows (`audit_log`, storage migration 0008), not AuditEvent resources: a
row is ~20 short columns and one insert, where a resource is JSON plus its search index
rows. `row_of(event)` flattens an AuditEvent built by events.py (callers keep building
AuditEvents: the bulk kick-off, analysis runs); `render(row)` gives the AuditEvent back
for the API, the citizen's access log and the privacy officer's report. The round trip
keeps every element events.py writes (tests/audit/test_log.py checks it).

`digest(row)` is the chain's hash: SHA-256 over every column but `hash` itself, `previous`
included, so each row vouches for the one before it (audit/verify.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from typing import Any

import orjson

from ehelse.audit.events import (ACTIONS, AUDIT_TYPE, ENTITY_TYPE, INTERACTION, PURPOSE, REASON_URL,
                                 RELATION_URL, ROLE, SUBTYPES, reason_of, relation_of)
from ehelse.nobasis.seed.vocabulary import ENH, FNR, HPR
from ehelse.storage.stamp import now_instant

# The columns of audit_log, in table order (hash last).
COLUMNS = ("chain", "seq", "recorded", "actor_kind", "actor_id", "token_id", "on_behalf", "organization",
           "purpose", "reason", "relation", "interaction", "resource_type", "refs", "query", "patient",
           "outcome", "detail", "request_id", "previous", "hash")
MAX_REFS = 20  # a search's page: the first few references, the query tells the rest
_SYSTEMS = {"patient": FNR, "practitioner": HPR}


def _request_id() -> str:
    global _REQUEST_ID
    if _REQUEST_ID is None:
        try:  # the web layer's request id (web/logs.py), when there is a request
            from ehelse.web.logs import request_id
        except ImportError:  # pragma: no cover - web is part of the package
            return ""
        _REQUEST_ID = request_id  # imported late (web imports audit), once
    return _REQUEST_ID.get()


_REQUEST_ID: Any = None


def row_of(event: dict[str, Any]) -> dict[str, Any]:
    """The log row of an AuditEvent from events.audit_event (chain, seq, previous and hash
    are the trail's to fill)."""
    requestor = next((a for a in event.get("agent") or [] if a.get("requestor")), {})
    who = requestor.get("who") or {}
    kind = ((requestor.get("role") or [{}])[0]).get("text", "")
    actor_id = (who.get("identifier") or {}).get("value")
    if actor_id is None:
        display = who.get("display", "")
        actor_id = display.split(":", 1)[1] if display.startswith(f"{kind}:") else display
    refs, query, patient = [], "", ""
    for entity in event.get("entity") or []:
        reference = (entity.get("what") or {}).get("reference", "")
        if reference.startswith("Patient/") and (entity.get("role") or {}).get("code") == "1":
            patient = reference[len("Patient/"):]
        elif reference:
            refs.append(reference)
        elif entity.get("query"):
            query = base64.b64decode(entity["query"]).decode("utf-8", "replace")
    on_behalf = next(((a.get("who") or {}).get("reference", "")[len("Patient/"):]
                      for a in event.get("agent") or [] if not a.get("requestor")), "")
    purpose = next((c.get("code", "") for p in requestor.get("purposeOfUse") or [] for c in p.get("coding") or []), "")
    return {
        "recorded": event.get("recorded", ""), "actor_kind": kind, "actor_id": actor_id,
        "token_id": requestor.get("altId", ""), "on_behalf": on_behalf,
        "organization": ((requestor.get("location") or {}).get("identifier") or {}).get("value", ""),
        "purpose": purpose, "reason": reason_of(event) or "", "relation": relation_of(event),
        "interaction": (event.get("subtype") or [{}])[0].get("code", "operation"),
        "resource_type": refs[0].split("/")[0] if refs else "", "refs": " ".join(refs[:MAX_REFS]),
        "query": query, "patient": patient, "outcome": event.get("outcome", "0"),
        "detail": event.get("outcomeDesc", ""), "request_id": _request_id(),
    }


def row_for(actor: Any, *, interaction: str, patient_id: str, what: list[str] | None = None,
            query: str | None = None, denied: bool = False, relation: str | None = None,
            detail: str | None = None) -> dict[str, Any]:
    """`row_of(audit_event(actor, ...))` without building the AuditEvent in between: the row
    of one access, for the read path where the event dict is made only to be flattened again
    (web/fhir.py reads by id; tests/audit/test_log.py checks both give the same row)."""
    kind, subject = actor.kind, actor.subject
    if kind in _SYSTEMS:
        actor_id = subject
    elif actor.organization:  # events.py overwrites who.display; row_of then keeps it whole
        actor_id = f"HPR {subject}, org {actor.organization}"
    else:
        actor_id = subject
    refs = [r for r in (what or [])[:MAX_REFS] if r]
    return {
        "recorded": now_instant(), "actor_kind": kind, "actor_id": actor_id,
        "token_id": actor.token_id or "", "on_behalf": patient_id if kind == "patient" else "",
        "organization": actor.organization or "", "purpose": actor.purpose or "",
        "reason": actor.reason[:500] if actor.reason else "", "relation": relation or "none",
        "interaction": interaction if interaction in SUBTYPES else "operation",
        "resource_type": refs[0].split("/")[0] if refs else "", "refs": " ".join(refs),
        "query": query.encode("utf-8")[:2000].decode("utf-8", "replace") if query else "",
        "patient": patient_id, "outcome": "4" if denied else "0", "detail": detail or "",
        "request_id": _request_id(),
    }


def digest(row: dict[str, Any]) -> str:
    """The hash a row must carry: over every other column, in table order."""
    values = [row.get(c, "") for c in COLUMNS[:-1]]
    return hashlib.sha256(orjson.dumps(values)).hexdigest()


# What no backend stores as given: NUL (PostgreSQL's text refuses it: COPY and bound
# parameters alike) and lone surrogates (not UTF-8: neither database nor the hash's JSON takes
# them; a token's JSON `\ud800` escape makes one).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _sealed(row: dict[str, Any]) -> tuple[bytes | None, str]:
    """(the JSON of the row's columns but `hash`, or None when some had to be replaced, and
    the hash), after replacing in it, with U+FFFD, every character _UNSTORABLE names."""
    values = [row.get(c, "") for c in COLUMNS[:-1]]
    try:
        dumped = orjson.dumps(values)
        if b"\\" not in dumped or b"\\u0000" not in dumped:  # most rows have no escape at all
            return dumped, hashlib.sha256(dumped).hexdigest()
    except orjson.JSONEncodeError:
        pass
    for column in COLUMNS[:-1]:
        value = row.get(column)
        if isinstance(value, str):
            row[column] = _UNSTORABLE.sub("\ufffd", value)
    return None, digest(row)


def sealed_digest(row: dict[str, Any]) -> str:
    """digest(row) for a row about to be stored (trail.py), after replacing in it, with
    U+FFFD, every character _UNSTORABLE names: the access is recorded all the same, the same
    way on every backend, and such a value in one request's row cannot fail the commit it
    shares with other requests' rows (the loop's group commit). The row's JSON shows both
    cases (a NUL as the escape \\u0000, a surrogate as an error), so a clean row costs
    a search of bytes already made (0.2-0.4 us, against 1.8 for the digest itself); a
    backslash followed by u0000 in a value only costs a pass that changes nothing."""
    return _sealed(row)[1]


def sealed_line(row: dict[str, Any]) -> bytes:
    """sealed_digest(row), set as row["hash"], and the row as one JSON array of its columns
    in table order (an audit journal's line, audit/journal.py), made from the bytes the
    digest was made of: the array without its hash, with the hash put at its end."""
    dumped, row["hash"] = _sealed(row)
    if dumped is None:
        return orjson.dumps([row[c] for c in COLUMNS])
    return b"%s,\"%s\"]" % (dumped[:-1], row["hash"].encode())


@functools.lru_cache(maxsize=16)
def insert_rows(count: int, *, or_ignore: bool = False) -> str:
    """INSERT of `count` audit_log rows in one statement (https://www.sqlite.org/lang_insert.html):
    one step, one hand-back of the GIL, where executemany steps once per row."""
    values = f"({', '.join('?' * len(COLUMNS))})"
    return (f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO audit_log ({', '.join(COLUMNS)}) "
            f"VALUES {', '.join([values] * count)}")


def event_id(row: dict[str, Any]) -> str:
    return f"{row['chain']}-{row['seq']}"


def render(row: dict[str, Any]) -> dict[str, Any]:
    """The AuditEvent of a row (http://hl7.org/fhir/R4/auditevent.html), as events.py
    codes it: type rest, subtype the interaction, the requestor agent, entities."""
    kind, actor_id = row["actor_kind"], row["actor_id"]
    system = _SYSTEMS.get(kind)
    requestor: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                             "code": "humanuser" if kind in _SYSTEMS else "dataprocessor"}]},
        "who": {"identifier": {"system": system, "value": actor_id}} if system else {"display": f"{kind}:{actor_id}"},
        "requestor": True, "role": [{"text": kind}],
    }
    if row["token_id"]:
        requestor["altId"] = row["token_id"]
    if row["organization"]:
        requestor["location"] = {"identifier": {"system": ENH, "value": row["organization"]}}
        requestor["who"]["display"] = f"HPR {actor_id}, org {row['organization']}"
    if row["purpose"]:
        requestor["purposeOfUse"] = [{"coding": [{"system": PURPOSE, "code": row["purpose"]}]}]
    agents = [requestor]
    if row["on_behalf"]:
        agents.append({"who": {"reference": f"Patient/{row['on_behalf']}"}, "requestor": False,
                       "role": [{"text": "self" if row["relation"] == "self" else "acted-for"}]})
    entities: list[dict[str, Any]] = []
    if row["patient"]:
        entities.append({"what": {"reference": f"Patient/{row['patient']}"},
                         "type": {"system": ENTITY_TYPE, "code": "1"}, "role": {"system": ROLE, "code": "1"}})
    for reference in row["refs"].split():
        entities.append({"what": {"reference": reference}, "type": {"system": ENTITY_TYPE, "code": "2"},
                         "role": {"system": ROLE, "code": "4"}})
    if row["query"]:
        entities.append({"type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": ROLE, "code": "24"},
                         "query": base64.b64encode(row["query"].encode("utf-8")).decode("ascii")})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent", "id": event_id(row),
        "meta": {"versionId": "1", "lastUpdated": row["recorded"]},
        "extension": [{"url": RELATION_URL, "valueCode": row["relation"] or "none"}],
        "type": {"system": AUDIT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION, "code": row["interaction"] if row["interaction"] in SUBTYPES else "operation"}],
        "action": ACTIONS.get(row["interaction"], "E"),
        "recorded": row["recorded"], "outcome": row["outcome"], "agent": agents,
        "source": {"observer": {"display": "ehelse"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": entities,
    }
    if row["purpose"]:
        event["purposeOfEvent"] = [{"coding": [{"system": PURPOSE, "code": row["purpose"]}]}]
    if row["reason"]:
        event["extension"].append({"url": REASON_URL, "valueString": row["reason"]})
    if row["detail"]:
        event["outcomeDesc"] = row["detail"]
    return event
