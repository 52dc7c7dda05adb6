"""The overview (forsiden): what is new (results, documents, messages, appointments), the
next appointment, current medicines and critical information, for the person acted for."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.portals.citizen import fhirtext
from ehelse.portals.ui import measure

NEWEST = 5


def overview(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    subject = citizen.subject
    today = date.today().isoformat()
    with measure(request.scope, "fhir"):
        # Only the five shown: sorted in the database. (Once this fetched every lab result and
        # sorted here, when a sort walked the whole date index; a search confined to one
        # record now sorts that record's rows only, search/execute.py.)
        results = citizen.search("Observation", patient=subject, category="laboratory", _sort="-date", _count=NEWEST)
        upcoming = citizen.search("Appointment", patient=subject, date=f"ge{today}", _sort="date", _count=3)
        upcoming = [a for a in upcoming if a.get("status") in ("booked", "pending", "proposed")]
        medicines = citizen.search("MedicationRequest", patient=subject, status="active", _count=50)
        # R4 Flag has no `status` search parameter (flag.html#search): filtered here.
        flags = [f for f in citizen.search("Flag", patient=subject, _count=50) if f.get("status") == "active"]
        allergies = citizen.search("AllergyIntolerance", patient=subject, _count=50)
        messages = fhirtext.newest_first(citizen.search("Communication", subject=subject, _count=500), "sent")[:NEWEST]
        documents = []
        if "DocumentReference" not in citizen.rights.hidden_types:
            documents = citizen.search("DocumentReference", patient=subject, _sort="-date", _count=3)
    critical = [fhirtext.concept(f.get("code")) for f in flags]
    critical += [fhirtext.concept(a.get("code")) for a in allergies if a.get("criticality") == "high"]
    unread = [m for m in messages if _unread(m, citizen)]
    return portal.render(request, "citizen/overview.html", citizen, title=t("overview_title"), nav="overview",
                         results=results, next_appointment=upcoming[0] if upcoming else None,
                         medicines=sorted(fhirtext.concept(m.get("medicationCodeableConcept")) for m in medicines),
                         critical=critical, allergies=allergies, messages=messages, unread=len(unread),
                         documents=documents, fhirtext=fhirtext)


def _unread(message: dict[str, Any], citizen: Any) -> bool:
    """A message to the person that has no `received` yet (Communication.received: when the
    recipient got it; the portal sets it when the thread is opened)."""
    recipients = {r.get("reference") for r in message.get("recipient") or []}
    return citizen.subject in recipients and not message.get("received")
