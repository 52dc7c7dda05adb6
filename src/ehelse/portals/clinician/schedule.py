"""The clinician's schedule: open Slots that citizens can book (the citizen portal offers the
free Slots of the GP's Schedule, citizen/appointments.py) and close them again.
http://hl7.org/fhir/R4/slot.html: a Slot is `free` to book, `busy-unavailable` when closed.

Everything goes through the FHIR API with the clinician's token, like any other page: the
access rules (access/schedules.py) let a practitioner read a Schedule that names no patient
and write the Slots of a Schedule whose actor is their own PractitionerRole or Practitioner.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.errors import BadRequest, Forbidden, NotFound
from ehelse.portals.ui import flash, measure

OSLO = ZoneInfo("Europe/Oslo")
LENGTHS = (15, 20, 30, 45, 60)
DAYS_SHOWN = 14


def my_schedule(clinician: Any) -> dict[str, Any] | None:
    """The clinician's own active Schedule (R4 Schedule.actor: their PractitionerRole)."""
    if not clinician.role_refs:
        return None
    for schedule in clinician.search("Schedule", actor=",".join(clinician.role_refs), _count=5):
        if schedule.get("active") is not False:
            return schedule
    return None


def _slot_start(form: dict[str, Any], t: Any) -> datetime:
    try:
        day = date.fromisoformat(str(form.get("date", "")))
        hour, minute = (int(x) for x in str(form.get("time", "")).split(":"))
        start = datetime.combine(day, time(hour, minute), tzinfo=OSLO)
    except (ValueError, TypeError):
        raise BadRequest(t("slot_bad_time")) from None
    if start < datetime.now(OSLO):
        raise BadRequest(t("slot_in_past"))
    return start


def schedule(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    with measure(request.scope, "fhir"):
        mine = my_schedule(clinician)
    error = None
    if request.method == "POST":
        try:
            if mine is None:
                raise Forbidden(t("no_schedule"))
            if form.get("close"):
                _close(clinician, mine, str(form["close"]), t)
                flash(request, "success", t("slot_closed"))
            else:
                length = int(form.get("length") or 0)
                if length not in LENGTHS:
                    raise BadRequest(t("slot_bad_length"))
                start = _slot_start(form, t)
                clinician.create({"resourceType": "Slot", "schedule": {"reference": f"Schedule/{mine['id']}"},
                                      "status": "free", "start": start.isoformat(timespec="seconds"),
                                      "end": (start + timedelta(minutes=length)).isoformat(timespec="seconds")})
                flash(request, "success", t("slot_opened"))
            return RedirectResponse(portal.url("/timebok"), status_code=303)
        except BadRequest as bad:
            error = str(bad.issues[0].diagnostics if bad.issues else bad)
    slots: list[dict[str, Any]] = []
    if mine is not None:
        today = clinician.policy.today()
        with measure(request.scope, "fhir"):
            slots = clinician.search("Slot", schedule=f"Schedule/{mine['id']}", start=[f"ge{today.isoformat()}",
                                     f"lt{(today + timedelta(days=DAYS_SHOWN)).isoformat()}"], _sort="start", _count=300)
    return portal.render(request, "clinician/schedule.html", clinician, title=t("schedule_title"), nav="schedule",
                         status=400 if error else 200, schedule=mine, slots=slots, lengths=LENGTHS, error=error,
                         values=form, today=clinician.policy.today().isoformat())


def _close(clinician: Any, mine: dict[str, Any], slot_id: str, t: Any) -> None:
    try:
        slot = clinician.read("Slot", slot_id)
    except NotFound:
        raise NotFound(t("slot_unknown")) from None
    # The API would refuse another's Slot too (403); checked here first to say why in words.
    if (slot.get("schedule") or {}).get("reference") != f"Schedule/{mine['id']}":
        raise BadRequest(t("slot_not_yours"))
    if slot.get("status") != "free":
        raise BadRequest(t("slot_not_free"))
    slot["status"] = "busy-unavailable"
    clinician.update(slot)
