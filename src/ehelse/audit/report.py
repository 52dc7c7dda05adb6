"""Reading the trail: the privacy officer's follow-up and the citizen's access log.

`report(repo, since)`: every emergency access, every access by personnel without a care
relationship (demographic look-ups included), every denied attempt, and unusual patterns:
one practitioner touching many patients outside their care relationships
(UNUSUAL_PATIENTS or more in the period), for review.

`who_has_looked(repo, patient_id)`: the citizen's "who has looked at my record": name,
role, organisation, when, why, for every access by someone other than the citizen
(representatives acting for them included; refused attempts are for the privacy officer).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ehelse.access.lookup import find, ref_id
from ehelse.audit.events import reason_of, relation_of
from ehelse.fhir import jsoncodec
from ehelse.nobasis.seed.vocabulary import ENH, FNR, HPR
from ehelse.storage.protocol import SearchParam, SearchQuery

UNUSUAL_PATIENTS = 10
_ROLE_NB = {"practitioner": "Helsepersonell", "patient": "Innbygger", "admin": "Administrator", "system": "System"}
# A citizen acting for someone, by the relation that let them (access/policy.py RIGHTS).
_REPRESENTATIVE_NB = {"parent": "Foresatt", "parent-limited": "Foresatt", "fullmakt": "Fullmektig",
                      "nearest-relative": "Nærmeste pårørende"}
_WHY_NB = {"TREAT": "behandling", "ETREAT": "akutt behandling (nødrett)", "COC": "koordinering av helsehjelp",
           "BTG": "nødtilgang (break the glass)"}


@dataclass(frozen=True, slots=True)
class Access:
    """One access as a person reads it."""

    when: str
    who: str  # FNR, HPR or admin/system name
    kind: str  # patient | practitioner | admin | system
    organization: str | None
    purpose: str | None
    reason: str | None
    relation: str
    action: str
    patient: str
    denied: bool
    what: str


@dataclass
class Report:
    since: str
    emergency: list[Access] = field(default_factory=list)
    without_care: list[Access] = field(default_factory=list)
    denied: list[Access] = field(default_factory=list)
    unusual: list[tuple[str, int]] = field(default_factory=list)  # (HPR, patients outside care)
    chains: dict[str, str] = field(default_factory=dict)  # chain -> last record time


def _access(event: dict[str, Any]) -> Access:
    requestor = next((a for a in event.get("agent") or [] if a.get("requestor")), {})
    who = requestor.get("who") or {}
    identifier = who.get("identifier") or {}
    kind = ((requestor.get("role") or [{}])[0]).get("text", "")
    patient = next((ref_id(e.get("what"), "Patient") for e in event.get("entity") or []
                    if ref_id(e.get("what"), "Patient")), "")
    what = [e["what"]["reference"] for e in event.get("entity") or [] if (e.get("what") or {}).get("reference")
            and not e["what"]["reference"].startswith("Patient/")]
    query = next((e.get("query") for e in event.get("entity") or [] if e.get("query")), None)
    if query:
        what.append(base64.b64decode(query).decode("utf-8", "replace"))
    purpose = next((c.get("code") for p in event.get("purposeOfEvent") or [] for c in p.get("coding") or []), None)
    return Access(event.get("recorded", ""), identifier.get("value") or who.get("display", ""), kind,
                  ((requestor.get("location") or {}).get("identifier") or {}).get("value"), purpose,
                  reason_of(event), relation_of(event), (event.get("subtype") or [{}])[0].get("code", ""),
                  patient, event.get("outcome") != "0", ", ".join(what[:5]))


def events_since(repo: Any, since: str) -> list[dict[str, Any]]:
    out, offset = [], 0
    while True:
        query = SearchQuery(params=[SearchParam("date", None, (f"ge{since}",))], count=1000, offset=offset,
                            total="none")
        page = repo.search("AuditEvent", query)
        out += [jsoncodec.loads(v.content, max_depth=10_000) for v in page.entries]
        if len(page.entries) < 1000:
            return out
        offset += 1000


def report(repo: Any, since: str) -> Report:
    from ehelse.audit.trail import chain_link

    result = Report(since)
    outside: dict[str, set[str]] = {}
    for event in events_since(repo, since):
        access = _access(event)
        link = chain_link(event) or {}
        if link.get("chain"):
            result.chains[link["chain"]] = max(result.chains.get(link["chain"], ""), access.when)
        if access.relation == "emergency":
            result.emergency.append(access)
        if access.kind == "practitioner" and access.relation == "none":
            result.without_care.append(access)
            outside.setdefault(access.who, set()).add(access.patient)
        if access.denied:
            result.denied.append(access)
    result.unusual = sorted(((hpr, len(p)) for hpr, p in outside.items() if len(p) >= UNUSUAL_PATIENTS),
                            key=lambda x: -x[1])
    for items in (result.emergency, result.without_care, result.denied):
        items.sort(key=lambda a: a.when)
    return result


def who_has_looked(repo: Any, patient_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """Newest first: {when, name, role, organisation, why, action, on_behalf}, leaving out
    the citizen's own look-ups of their own record."""
    me = repo.read("Patient", patient_id)
    my_fnr = {i.get("value") for i in (jsoncodec.loads(me.content).get("identifier") or [])} if me and me.content else set()
    events = find(repo, "AuditEvent", patient=f"Patient/{patient_id}")
    names: dict[tuple[str, str], str] = {}
    rows = []
    for event in sorted(events, key=lambda e: e.get("recorded", ""), reverse=True)[:limit]:
        access = _access(event)
        if (access.kind == "patient" and access.who in my_fnr) or access.denied:
            continue  # their own look-ups, and attempts that saw nothing (the report has those)
        rows.append({
            "when": access.when, "name": _name(repo, names, access),
            "role": _REPRESENTATIVE_NB.get(access.relation) or _ROLE_NB.get(access.kind, access.kind),
            "organisation": _organisation(repo, names, access.organization),
            "why": ", ".join(x for x in (_WHY_NB.get(access.purpose or "", access.purpose), access.reason) if x)
                   or ("handlet på dine vegne" if access.kind == "patient" else ""),
            "action": access.action, "denied": access.denied, "relation": access.relation,
        })
    return rows


def _name(repo: Any, cache: dict, access: Access) -> str:
    system = {"practitioner": HPR, "patient": FNR}.get(access.kind)
    if system is None:
        return access.who
    key = (system, access.who)
    if key not in cache:
        type = "Practitioner" if access.kind == "practitioner" else "Patient"
        found = find(repo, type, identifier=f"{system}|{access.who}")
        name = (found[0].get("name") or [{}])[0] if found else {}
        cache[key] = " ".join([*(name.get("given") or []), name.get("family", "")]).strip() or access.who
    return cache[key]


def _organisation(repo: Any, cache: dict, orgnr: str | None) -> str:
    if not orgnr:
        return ""
    key = (ENH, orgnr)
    if key not in cache:
        found = find(repo, "Organization", identifier=f"{ENH}|{orgnr}")
        cache[key] = found[0].get("name", orgnr) if found else orgnr
    return cache[key]
