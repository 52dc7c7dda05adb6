"""audit_run: every export and analysis run leaves AuditEvents (who, which view, whose data,
for what purpose).

Uses the audit trail (ehelse.audit: hash-chained, durable before data) with one AuditEvent
per patient whose data the run read, as for any other access, so a citizen's "who has
looked at my record" shows research and statistics use too. Each event names the view
(entity query: `ViewDefinition <name>`), the purpose (purposeOfEvent, the actor's or the
one given) and the engine (outcomeDesc). A run that read no patient's data still gets one
event (patient-less), so nothing runs unrecorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

CHUNK = 1000  # events per trail.record() call: bounded memory for a whole-population run


def audit_run(actor: Any, view: Any, patients_touched: Iterable[str] | None, purpose: str | None,
              repo: Any = None, *, engine: str = "", rows: int | None = None) -> int:
    """Record the run; returns how many AuditEvents were written (0 without a repository)."""
    if repo is None:
        return 0
    from ehelse.access.actor import SYSTEM
    from ehelse.audit.events import audit_event
    from ehelse.audit.trail import trail_for

    actor = actor or SYSTEM
    if purpose and not actor.purpose:
        actor = replace(actor, purpose=purpose)
    name = getattr(view, "name", None) or (view.get("name") if isinstance(view, dict) else None) or "(unnamed)"
    resource = getattr(view, "resource", None) or (view.get("resource") if isinstance(view, dict) else "")
    query = f"ViewDefinition {name} on {resource}"
    detail = f"analysis run: view {name}; purpose {purpose or actor.purpose or 'unspecified'}; " \
             f"engine {engine or 'runner'}; rows {rows if rows is not None else '?'}"
    trail = trail_for(repo)
    written, batch = 0, []
    for patient in sorted(set(patients_touched or ())):
        batch.append(audit_event(actor, interaction="operation", patient_id=patient, query=query, detail=detail))
        if len(batch) >= CHUNK:
            trail.record(batch)
            written, batch = written + len(batch), []
    if not batch and written == 0:
        event = audit_event(actor, interaction="operation", patient_id="none", query=query, detail=detail)
        event["entity"] = [e for e in event["entity"] if e.get("what", {}).get("reference") != "Patient/none"]
        batch.append(event)
    trail.record(batch)
    return written + len(batch)
