"""Rules that come with a write, applied by SecuredRepository inside the write's own
transaction, so the API and the portals behave the same way:

    booking      an Appointment that becomes active (booked, pending, ...) takes its Slots:
                 each must be `free` and becomes `busy` in the same transaction; cancelling
                 (cancelled, noshow, entered-in-error) frees them again. Two bookings of one
                 Slot: exactly one wins, the other gets 409. (R4 Slot.status: "busy" once an
                 Appointment holds it - http://hl7.org/fhir/R4/slot.html; the client names the
                 slot in Appointment.slot - http://hl7.org/fhir/R4/appointment.html#Appointment.slot.)
    read status  a citizen may update a Communication addressed to a person they act for,
                 only to set `received` (R4 Communication.received: "the time when this
                 communication arrived at the destination"): that is how the recipient marks
                 a message read. Nothing else in it may change.
    fullmakt     a citizen may create a RelatedPerson in their own record only to name a
                 fullmakt holder: a registered person (FNR/D-number of a Patient), 18 or over,
                 without a confidential address, and the giver 16 or over (DOMAIN.md);
                 never a parental-responsibility relation.

The Slot write is made on the real repository (a citizen may not write Slot): it is the
server's consequence of a write the actor was allowed to make, not a write of the actor's.
"""

from __future__ import annotations

from typing import Any

from ehelse.access.lookup import age, codes, load, ref_id
from ehelse.access.representation import find_patient, is_confidential
from ehelse.errors import Conflict, Forbidden, PreconditionFailed
from ehelse.fhir import jsoncodec

ACTIVE = frozenset({"proposed", "pending", "booked", "arrived", "fulfilled", "checked-in", "waitlist"})
PARENTAL_RESPONSIBILITY = "http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility"
PERSON_NUMBERS = ("urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2")  # FNR, D-number
_IGNORED = ("meta", "text", "received")


def before_write(inner: Any, actor: Any, resource: dict[str, Any], previous: dict[str, Any] | None,
                 today: Any) -> None:
    """Check and apply the rules for one create (previous None) or update."""
    type = resource.get("resourceType")
    if type == "Appointment":
        _book(inner, resource, previous)
    elif actor.kind == "patient" and type == "Communication" and previous is not None:
        _mark_read(resource, previous)
    elif actor.kind == "patient" and type == "RelatedPerson":
        _fullmakt_holder(inner, resource, previous, today)


def _slots(appointment: dict[str, Any] | None) -> set[str]:
    if not appointment or appointment.get("status") not in ACTIVE:
        return set()
    return {i for i in (ref_id(s, "Slot") for s in appointment.get("slot") or []) if i}


def _book(inner: Any, appointment: dict[str, Any], previous: dict[str, Any] | None) -> None:
    held, wanted = _slots(previous), _slots(appointment)
    for slot_id in sorted(wanted - held):
        _set_slot(inner, slot_id, "free", "busy")
    for slot_id in sorted(held - wanted):  # cancelled, or moved to another slot
        _set_slot(inner, slot_id, "busy", "free", strict=False)


def _set_slot(inner: Any, slot_id: str, expected: str, to: str, *, strict: bool = True) -> None:
    version = inner.read("Slot", slot_id)
    if version is None or version.deleted:
        if strict:
            raise Conflict(f"Slot/{slot_id} does not exist")
        return
    slot = jsoncodec.loads(version.content, max_depth=1000)
    if slot.get("status") != expected:
        if strict:
            raise Conflict(f"Slot/{slot_id} is not free: it has been booked")
        return
    slot["status"] = to
    try:  # if_match: a second process that read the same free version loses (optimistic lock)
        inner.update(slot, if_match=version.version_id)
    except PreconditionFailed:
        raise Conflict(f"Slot/{slot_id} is not free: it has been booked") from None


def _mark_read(resource: dict[str, Any], previous: dict[str, Any]) -> None:
    def rest(r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r.items() if k not in _IGNORED}

    if rest(resource) != rest(previous):
        raise Forbidden("A citizen may only mark a message read (Communication.received)", code="forbidden")
    subject = ref_id(previous.get("subject"), "Patient")
    recipients = {ref_id(r, "Patient") for r in previous.get("recipient") or []}
    if subject is None or subject not in recipients:
        raise Forbidden("Only a message to the person can be marked read by them", code="forbidden")
    if previous.get("received") and resource.get("received") != previous["received"]:
        raise Forbidden("A message marked read stays read", code="forbidden")


def _fullmakt_holder(inner: Any, related: dict[str, Any], previous: dict[str, Any] | None, today: Any) -> None:
    if previous is not None:
        raise Forbidden("A citizen may not change a RelatedPerson", code="forbidden")
    if any(system == PARENTAL_RESPONSIBILITY for system, _ in codes(related.get("relationship"))):
        raise Forbidden("Parental responsibility comes from the population register, not from a citizen",
                        code="forbidden")
    numbers = [i.get("value") for i in related.get("identifier") or []
               if isinstance(i, dict) and i.get("system") in PERSON_NUMBERS and i.get("value")]
    holder = find_patient(inner, numbers[0]) if len(numbers) == 1 else None
    if holder is None:
        raise Forbidden("A fullmakt holder must be named by the person number of a registered person",
                        code="forbidden")
    giver_id = ref_id(related.get("patient"), "Patient")
    giver = load(inner, "Patient", giver_id) if giver_id else None
    if giver is None or giver["id"] == holder["id"]:
        raise Forbidden("A fullmakt is given to another person", code="forbidden")
    if (age(giver.get("birthDate"), today) or 0) < 16:
        raise Forbidden("A fullmakt can be given from the age of 16", code="forbidden")
    if (age(holder.get("birthDate"), today) or 0) < 18:
        raise Forbidden("A fullmakt holder must be 18 or over", code="forbidden")
    if is_confidential(holder) or is_confidential(giver):
        raise Forbidden("A person with a confidential address cannot hold or give a fullmakt here",
                        code="forbidden")
