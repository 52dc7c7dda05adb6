"""The AuditEvent of one access to one patient's data (http://hl7.org/fhir/R4/auditevent.html).

Coded as the spec suggests for RESTful access: type `rest` (audit-event-type), subtype the
interaction (restful-interaction), action C/R/U/D/E, outcome 0 (success), 4 (minor
failure: denied) or 8; the agent who asked (`requestor`), the person acted for when not
the same, the organisation and the purpose of use (HL7 v3 PurposeOfUse); entities: the
patient (role 1, patient) and what was touched (a reference, or the query for a search).
The relation that gave or denied access (self, parent, fullmakt, care, emergency, none)
travels in an extension, so the privacy officer's report needs no guessing.
"""

from __future__ import annotations

import base64
from typing import Any

from ehelse.nobasis.seed.vocabulary import EHELSE_CS, ENH, FNR, HPR
from ehelse.storage.stamp import now_instant

AUDIT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
RELATION_URL = EHELSE_CS + "audit-relation"  # valueCode: how the actor relates to the patient
REASON_URL = EHELSE_CS + "audit-reason"  # valueString: the reason given with a purpose
ACTIONS = {"create": "C", "read": "R", "vread": "R", "search": "E", "history": "R", "operation": "E",
           "update": "U", "patch": "U", "delete": "D"}
SUBTYPES = {"read", "vread", "update", "patch", "delete", "history", "create", "search", "operation"}


def _who(actor: Any) -> dict[str, Any]:
    if actor.kind == "patient":
        return {"identifier": {"system": FNR, "value": actor.subject}}
    if actor.kind == "practitioner":
        return {"identifier": {"system": HPR, "value": actor.subject}}
    return {"display": f"{actor.kind}:{actor.subject}"}


def audit_event(actor: Any, *, interaction: str, patient_id: str, what: list[str] | None = None,
                query: str | None = None, denied: bool = False, relation: str | None = None,
                detail: str | None = None) -> dict[str, Any]:
    """One AuditEvent: `actor` touched `patient_id`'s data by `interaction`."""
    requestor: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                             "code": "humanuser" if actor.kind in ("patient", "practitioner") else "dataprocessor"}]},
        "who": _who(actor), "requestor": True,
        "role": [{"text": actor.kind}],
    }
    if actor.token_id:
        requestor["altId"] = actor.token_id
    if actor.organization:
        requestor["location"] = {"identifier": {"system": ENH, "value": actor.organization}}
        requestor["who"]["display"] = f"HPR {actor.subject}, org {actor.organization}"
    if actor.purpose:
        requestor["purposeOfUse"] = [{"coding": [{"system": PURPOSE, "code": actor.purpose}]}]
    agents = [requestor]
    if actor.kind == "patient":  # on behalf of whom: the patient acted for, when not oneself
        agents.append({"who": {"reference": f"Patient/{patient_id}"}, "requestor": False,
                       "role": [{"text": "acted-for" if relation != "self" else "self"}]})
    entities: list[dict[str, Any]] = [{
        "what": {"reference": f"Patient/{patient_id}"},
        "type": {"system": ENTITY_TYPE, "code": "1"}, "role": {"system": ROLE, "code": "1"},
    }]
    for reference in (what or [])[:20]:  # a search's page: the first few, the query tells the rest
        entities.append({"what": {"reference": reference}, "type": {"system": ENTITY_TYPE, "code": "2"},
                         "role": {"system": ROLE, "code": "4"}})
    if query:
        entities.append({"type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": ROLE, "code": "24"},
                         "query": base64.b64encode(query.encode("utf-8")[:2000]).decode("ascii")})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "extension": [{"url": RELATION_URL, "valueCode": relation or "none"}],
        "type": {"system": AUDIT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION, "code": interaction if interaction in SUBTYPES else "operation"}],
        "action": ACTIONS.get(interaction, "E"),
        "recorded": now_instant(),
        "outcome": "4" if denied else "0",
        "agent": agents,
        "source": {"observer": {"display": "ehelse"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": entities,
    }
    if actor.purpose:
        event["purposeOfEvent"] = [{"coding": [{"system": PURPOSE, "code": actor.purpose}]}]
    if actor.reason:
        event["extension"].append({"url": REASON_URL, "valueString": actor.reason[:500]})
    if detail:
        event["outcomeDesc"] = detail
    return event


def relation_of(event: dict[str, Any]) -> str:
    for ext in event.get("extension") or []:
        if ext.get("url") == RELATION_URL:
            return ext.get("valueCode") or "none"
    return "none"


def reason_of(event: dict[str, Any]) -> str | None:
    for ext in event.get("extension") or []:
        if ext.get("url") == REASON_URL:
            return ext.get("valueString")
    return None
