"""Reading the trail: the privacy officer's follow-up and the citizen's access log.

`report(repo, since, until)`: every emergency access grant (who, patient, purpose, reason,
expiry) and every emergency access, every access by personnel without a care
relationship (demographic look-ups included), every denied attempt, and unusual patterns:
one practitioner touching many patients outside their care relationships
(UNUSUAL_PATIENTS or more in the period), and the logins (success and failure), for review.

`who_has_looked(repo, patient_id)`: the citizen's "who has looked at my record": name,
role, organisation, when, why, for every access by someone other than the citizen
(representatives acting for them included; refused attempts are for the privacy officer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ehelse.access.lookup import find
from ehelse.audit import log
from ehelse.audit.record import event_id, render
from ehelse.errors import BadRequest
from ehelse.fhir import jsoncodec
from ehelse.nobasis.seed.vocabulary import ENH, FNR, HPR

UNUSUAL_PATIENTS = 10
GRANT_DETAIL = "emergency-access-grant until"  # access/care.py _audit_grant
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:00)?)?)?)?")
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
    id: str = ""  # the AuditEvent id (chain-seq): the page's link to the record


@dataclass
class Report:
    since: str
    emergency: list[Access] = field(default_factory=list)
    without_care: list[Access] = field(default_factory=list)
    denied: list[Access] = field(default_factory=list)
    unusual: list[tuple[str, int]] = field(default_factory=list)  # (HPR, patients outside care)
    grants: list[Access] = field(default_factory=list)  # emergency grants made (care.py), expiry in `what`
    logins: list[Access] = field(default_factory=list)  # sign-ins, success and failure (security.py)
    until: str | None = None
    chains: dict[str, str] = field(default_factory=dict)  # chain -> last record time


def _access(row: dict[str, Any]) -> Access:
    what = row["refs"].split()[:5]
    if row["query"]:
        what.append(row["query"])
    return Access(row["recorded"], row["actor_id"], row["actor_kind"], row["organization"] or None,
                  row["purpose"] or None, row["reason"] or None, row["relation"] or "none", row["interaction"],
                  row["patient"], row["outcome"] != "0", ", ".join(what[:5]), event_id(row))


def _since(value: str) -> str:
    """The instant prefix `since` stands for (a FHIR date or dateTime), checked."""
    if not _DATE.fullmatch(value or ""):
        raise BadRequest(f"--since must be a date or an instant like 2026-11-01, not {value!r}", code="value")
    return value.replace("+00:00", "Z")


def _end(prefix: str) -> str:
    """The greatest instant text a date prefix covers: "2026-11" -> "2026-11-99" sorts after
    every instant of November (digits only, so it compares the same in any collation)."""
    pad = {4: "-99", 7: "-99", 10: "T99", 16: ":99", 19: ".9999999"}.get(len(prefix.rstrip("Z")), "")
    prefix = prefix.rstrip("Z") if pad else prefix
    return prefix + pad


def events_since(repo: Any, since: str) -> list[dict[str, Any]]:
    """The AuditEvents recorded since a date, oldest first (rendered from the log)."""
    return [render(r) for r in log.select(repo, log.LogQuery(recorded=[("ge", _since(since))], newest_first=False))]


def report(repo: Any, since: str, until: str | None = None) -> Report:
    """The review since `since` (and before the end of `until`, when given)."""
    result = Report(since, until=until)
    outside: dict[str, set[str]] = {}
    period = [("ge", _since(since))]
    if until:
        period.append(("le", _end(_since(until))))
    for row in log.select(repo, log.LogQuery(recorded=period, newest_first=False)):
        access = _access(row)
        result.chains[row["chain"]] = max(result.chains.get(row["chain"], ""), access.when)
        if access.action == "login":
            result.logins.append(access)
            continue
        if access.action == "operation" and row["detail"].startswith(GRANT_DETAIL):
            result.grants.append(Access(*(getattr(access, f) for f in ("when", "who", "kind", "organization",
                                          "purpose", "reason", "relation", "action", "patient", "denied")),
                                        row["detail"][len(GRANT_DETAIL):].strip(), access.id))  # what: the expiry
            continue
        if access.relation == "emergency":
            result.emergency.append(access)
        if access.kind == "practitioner" and access.relation == "none" and access.patient:
            result.without_care.append(access)
            outside.setdefault(access.who, set()).add(access.patient)
        if access.denied:
            result.denied.append(access)
    result.unusual = sorted(((hpr, len(p)) for hpr, p in outside.items() if len(p) >= UNUSUAL_PATIENTS),
                            key=lambda x: -x[1])
    for items in (result.emergency, result.without_care, result.denied, result.grants, result.logins):
        items.sort(key=lambda a: a.when)
    return result


def who_has_looked(repo: Any, patient_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """Newest first: {when, name, role, organisation, why, action, on_behalf}, leaving out
    the citizen's own look-ups of their own record."""
    me = repo.read("Patient", patient_id)
    my_fnr = {i.get("value") for i in (jsoncodec.loads(me.content).get("identifier") or [])} if me and me.content else set()
    names: dict[tuple[str, str], str] = {}
    rows = []
    for row in log.select(repo, log.LogQuery(patients=[patient_id], count=limit)):
        access = _access(row)
        if (access.kind == "patient" and access.who in my_fnr) or access.denied:
            continue  # their own look-ups, and attempts that saw nothing (the report has those)
        if row["detail"].startswith(GRANT_DETAIL):
            continue  # the grant itself: the access it allowed is listed, and the notice told them
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
