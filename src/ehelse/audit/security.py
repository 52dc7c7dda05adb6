"""Security events in the audit log: logins (success and failure) and token issuance.

The issue asks for "a complete audit trail": not only who touched patient data, but who
signed in and which tokens were handed out. These rows name no patient (`patient` empty),
so only admins and system clients see them through the API (audit/api.py), and the
privacy officer's report lists them. They go through the same AuditTrail (hash chain,
group commit) as every other record. AuditEvent coding: type `rest` like the rest of the
log; subtype carries `login` or `token` (rendered as `operation`, the interaction code
system has no login); outcome 0 for success, 4 for a refused attempt
(http://hl7.org/fhir/R4/valueset-audit-event-outcome.html).
"""

from __future__ import annotations

import base64
from typing import Any

from ehelse.audit.events import now_instant
from ehelse.audit.trail import trail_for


def security_event(*, interaction: str, actor_kind: str, actor_id: str, client: str = "", ok: bool = True,
                   organization: str = "", purpose: str = "", detail: str = "") -> dict[str, Any]:
    """An AuditEvent in the shape record.row_of reads (no patient entity)."""
    requestor: dict[str, Any] = {"who": {"display": f"{actor_kind}:{actor_id}"}, "requestor": True,
                                 "role": [{"text": actor_kind}]}
    if organization:
        requestor["location"] = {"identifier": {"value": organization}}
    if purpose:
        requestor["purposeOfUse"] = [{"coding": [{"code": purpose}]}]
    entity = [{"query": base64.b64encode(f"client={client}".encode()).decode()}] if client else []
    event: dict[str, Any] = {"resourceType": "AuditEvent", "recorded": now_instant(), "agent": [requestor],
                             "subtype": [{"code": interaction}], "outcome": "0" if ok else "4", "entity": entity}
    if detail:
        event["outcomeDesc"] = detail
    return event


def record_security(repo: Any, **fields: Any) -> None:
    """Append one security event durably. Like data access, no token leaves before its
    record: a failure to write propagates (better no token than an unaudited one)."""
    trail_for(repo).record([security_event(**fields)])
