"""Appointments: see them, book into a free Slot of the GP's schedule, cancel
(http://hl7.org/fhir/R4/appointment.html; Slot and Schedule: R4 schedule module).

A citizen may create and update Appointments in their record (access/policy.py
CITIZEN_WRITES) but not change a Slot (a directory resource): a booked Slot is recognised by
the Appointment that names it, and left out of the free ones shown."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.errors import BadRequest
from ehelse.portals.ui import flash, measure

ACTIVE = ("booked", "pending", "proposed", "arrived", "checked-in")


def _gp_role(citizen: Any) -> dict[str, Any] | None:
    patient = citizen.read("Patient", citizen.acting.patient_id)
    for gp in patient.get("generalPractitioner") or []:
        if (gp.get("reference") or "").startswith("PractitionerRole/"):
            return gp
    return None


def appointments(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    if request.method == "POST":
        if form.get("cancel"):
            found = citizen.read("Appointment", form["cancel"])
            if found.get("status") not in ACTIVE:
                raise BadRequest(t("appointment_not_active"))
            found["status"] = "cancelled"
            found["cancelationReason"] = {"text": t("cancelled_by_patient")}
            citizen.update(found)
            flash(request, "success", t("appointment_cancelled"))
        elif form.get("slot"):
            _book(citizen, form["slot"], t)
            flash(request, "success", t("appointment_booked"))
        return RedirectResponse(portal.url("/timer"), status_code=303)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with measure(request.scope, "fhir"):
        mine = citizen.search("Appointment", patient=citizen.subject, _sort="-date", _count=200)
        gp = _gp_role(citizen)
        slots = []
        if gp is not None:
            slots = citizen.search("Slot", **{"schedule.actor": gp["reference"]}, status="free", start=f"ge{now[:10]}",
                                   _sort="start", _count=40)
    taken = {s.get("reference") for a in mine if a.get("status") in ACTIVE for s in a.get("slot") or []}
    slots = [s for s in slots if f"Slot/{s['id']}" not in taken and s.get("start", "") > now][:12]
    upcoming = sorted([a for a in mine if a.get("start", "") >= now and a.get("status") in ACTIVE], key=lambda a: a["start"])
    past = [a for a in mine if a not in upcoming]
    return portal.render(request, "citizen/appointments.html", citizen, title=t("appointments_title"),
                         nav="appointments", upcoming=upcoming, past=past[:50], slots=slots, gp=gp)


def _book(citizen: Any, slot_id: str, t: Any) -> dict[str, Any]:
    slot = citizen.read("Slot", slot_id)
    if slot.get("status") != "free":
        raise BadRequest(t("slot_taken"))
    gp = _gp_role(citizen)
    participants = [{"actor": {"reference": citizen.subject, "display": citizen.acting.name},
                     "required": "required", "status": "accepted"}]
    if gp is not None:
        participants.append({"actor": gp, "required": "required", "status": "needs-action"})
    return citizen.create({
        "resourceType": "Appointment", "status": "booked", "description": t("booked_in_portal"),
        "slot": [{"reference": f"Slot/{slot_id}"}], "start": slot["start"], "end": slot["end"],
        "created": datetime.now(timezone.utc).date().isoformat(), "participant": participants,
    })
