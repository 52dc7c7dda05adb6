"""Schedules and Slots: whose availability is it, and who may open and close it.

R4 Schedule is in the Patient compartment by `actor` (compartmentdefinition-patient.html),
because a Schedule may be a patient's own (a home-dialysis machine, a patient's availability).
Most are not: a GP's Schedule names a PractitionerRole, a Location or a HealthcareService,
and holds no one's health data (R4 schedule.html: "a container for slots of time that may
be available for booking appointments"). So:

    Schedule naming a Patient     in that patient's compartment, under the compartment rules
    Schedule naming no Patient    directory data: every signed-in actor may read it (citizens
                                  find their GP's free Slots through it)
    writes by personnel           a Schedule whose actors include their own PractitionerRole
                                  or Practitioner (and no Patient), and the Slots of such a
                                  Schedule (R4 slot.html: the Slot's `schedule` is the one
                                  reference that says whose time it is)

An organisation's Schedule (actor Organization, HealthcareService, Location) is not opened to
everyone at the organisation: who may manage a department's book is a role question (a
booking office) the HelseID token does not answer, so such Schedules stay admin-written.
Citizens write no Slot: booking marks a Slot busy as the server's consequence (writes.py).
"""

from __future__ import annotations

from typing import Any

from ehelse.access.lookup import load, ref_id

TYPES = frozenset({"Schedule", "Slot"})


def patient_actors(schedule: dict[str, Any]) -> set[str]:
    return {i for i in (ref_id(a, "Patient") for a in schedule.get("actor") or []) if i}


def is_directory(resource: dict[str, Any]) -> bool:
    """A Schedule that names no Patient: readable by every signed-in actor."""
    return resource.get("resourceType") == "Schedule" and not patient_actors(resource)


def _own(schedule: dict[str, Any] | None, who: Any) -> bool:
    if schedule is None or who is None or patient_actors(schedule):
        return False
    mine = set(who.references())
    actors = {a.get("reference") for a in schedule.get("actor") or [] if isinstance(a, dict)}
    return bool(mine & actors)


def personnel_may_write(inner: Any, who: Any, resource: dict[str, Any]) -> bool:
    """May this practitioner create/update/delete this Schedule or Slot (as written, and as
    it stands: repository.py checks the stored version too on update and delete)."""
    type = resource.get("resourceType")
    if type == "Schedule":
        return _own(resource, who)
    if type == "Slot":
        schedule_id = ref_id(resource.get("schedule"), "Schedule")
        return bool(schedule_id) and _own(load(inner, "Schedule", schedule_id), who)
    return False


def directory_condition(alias: str) -> str:
    """`is_directory` as SQL over `resource <alias>` (reference_index holds `actor` links)."""
    sx = f"sx_{alias}"
    return (f"({alias}.type = 'Schedule' AND NOT EXISTS (SELECT 1 FROM reference_index {sx}"
            f" WHERE {sx}.type = 'Schedule' AND {sx}.id = {alias}.id AND {sx}.param = 'actor'"
            f" AND {sx}.target_type = 'Patient'))")
