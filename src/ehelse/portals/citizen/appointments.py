"""Appointments: see them, book into a free Slot of the GP's schedule, cancel
(http://hl7.org/fhir/R4/appointment.html; Slot and Schedule: R4 schedule module).

A citizen may create and update Appointments in their record (access/policy.py
CITIZEN_WRITES) but not write a Slot (a directory resource). Booking names the Slot in
`Appointment.slot`; the server marks it busy in the same transaction (access/writes.py), so
of two people booking one slot exactly one gets it, and cancelling frees it again."""

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


def _schedules(citizen: Any, role: str) -> list[str]:
    """The GP's Schedules. A directory fact looked up on the unsecured repository: the access
    rules do not let a citizen read Schedule (its actor may be a patient), so the chained
    `Slot?schedule.actor=` finds nothing for them; a GP's Schedule holds no one's health data,
    and the Slots themselves are then searched under the citizen's rules."""
    from ehelse.access.lookup import find

    found = find(citizen.raw, "Schedule", actor=role)
    return [f"Schedule/{s['id']}" for s in found
            if not any((a.get("reference") or "").startswith("Patient/") for a in s.get("actor") or [])][:10]


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
        schedules = _schedules(citizen, gp["reference"]) if gp is not None else []
        if schedules:
            slots = citizen.search("Slot", schedule=",".join(schedules), status="free", start=f"ge{now[:10]}",
                                   _sort="start", _count=40)
    slots = [s for s in slots if s.get("start", "") > now][:12]
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
    appointment = {
        "resourceType": "Appointment", "status": "booked", "description": t("booked_in_portal"),
        "slot": [{"reference": f"Slot/{slot_id}"}], "start": slot["start"], "end": slot["end"],
        "created": datetime.now(timezone.utc).date().isoformat(), "participant": participants,
    }
    try:
        return citizen.create(appointment)
    except BadRequest as error:  # 409 from access/writes.py: someone else was faster
        if error.status != 409:
            raise
        taken = BadRequest(t("slot_taken"))
        taken.status = 409
        raise taken from None
