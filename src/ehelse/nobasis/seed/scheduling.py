"""Schedules with free Slots for GPs and hospital clinics, and Appointments past and future.

Schedule/Slot/Appointment per http://hl7.org/fhir/R4/schedule.html, slot.html and
appointment.html (app-2: start and end together; app-3: a booked or fulfilled appointment has
both). A booked future appointment at the practitioner's organisation is a care relationship
(DOMAIN.md). Appointments claim no-basis-Appointment.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import concept, instant, ref
from ehelse.nobasis.seed.organisations import Registry, Staff
from ehelse.nobasis.seed.vocabulary import profile

SERVICE_CATEGORY = "http://terminology.hl7.org/CodeSystem/service-category"
APPOINTMENT_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0276"


def _moment(day: date, minutes: int) -> str:
    return instant(day, minutes // 60, minutes % 60)


def working_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def schedules(ctx: SeedContext, registry: Registry, days: int = 10) -> Iterator[dict[str, Any]]:
    """A Schedule per GP and hospital doctor for the next `days` working days, with free Slots
    (GPs every 20 minutes 08:00–15:00 with a lunch break, clinics every 45 minutes)."""
    horizon = working_days(ctx.reference_date, days)
    doctors = [(s, 20, "Fastlegetime") for s in registry.gps()]
    doctors += [(s, 45, "Poliklinisk time") for d in registry.departments for s in d.staff]
    for staff, length, comment in doctors:
        schedule_id = ctx.new_id()
        yield {
            "resourceType": "Schedule", "id": schedule_id, "active": True,
            "serviceCategory": [concept(SERVICE_CATEGORY, "17" if length == 20 else "35",
                                        "General Practice" if length == 20 else "Hospital")],
            "actor": [staff.role(), staff.practitioner()],
            "planningHorizon": {"start": _moment(horizon[0], 8 * 60), "end": _moment(horizon[-1], 16 * 60)},
            "comment": comment,
        }
        for day in horizon:
            minute = 8 * 60
            while minute + length <= 15 * 60:
                if not (11 * 60 + 30 <= minute < 12 * 60) and ctx.rng.random() < 0.6:  # the rest is booked
                    yield {"resourceType": "Slot", "id": ctx.new_id(), "schedule": ref("Schedule", schedule_id),
                           "status": "free", "start": _moment(day, minute), "end": _moment(day, minute + length)}
                minute += length


def appointment(id: str, patient: Any, staff: Staff, day: date, minute: int, *, status: str, description: str,
                length: int = 20) -> dict[str, Any]:
    """`status` fulfilled (past) or booked (future); participants the patient and the role."""
    participation = "accepted"
    return {
        "resourceType": "Appointment", "id": id, "meta": {"profile": [profile("Appointment")]},
        "status": status,
        "appointmentType": concept(APPOINTMENT_TYPE, "ROUTINE" if length == 20 else "FOLLOWUP",
                                   "Routine appointment - default if not valued" if length == 20
                                   else "A follow up visit from a previous appointment"),
        "description": description,
        "start": _moment(day, minute), "end": _moment(day, minute + length),
        "created": f"{(day - timedelta(days=14)).isoformat()}",
        "participant": [
            {"actor": ref("Patient", patient.id, patient.display), "required": "required", "status": participation},
            {"actor": staff.role(), "required": "required", "status": participation},
        ],
    }
