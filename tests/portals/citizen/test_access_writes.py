"""The write rules of access/writes.py on the seeded portal database, through
SecuredRepository as the API and the portal use it: booking takes the Slot (and one of two
racing bookings wins), the recipient marks a message read and nothing else, a fullmakt holder
is named by FNR under the age and address rules."""

from __future__ import annotations

import threading
from datetime import date

import orjson
import pytest

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.errors import Conflict, FhirError, Forbidden
from ehelse.nobasis.seed import DEMO_CAST
from ehelse.storage import open_repository

from testsupport import copy_db

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"


@pytest.fixture(scope="module")
def raw(portal_db, tmp_path_factory):
    repo = open_repository(f"sqlite:///{copy_db(portal_db, tmp_path_factory.mktemp('writes'))}")
    yield repo
    repo.close()


def citizen(raw, key: str, acting_for: str | None = None) -> SecuredRepository:
    fnr = DEMO_CAST[key].fnr
    actor = Actor(kind="patient", subject=fnr, scopes=("patient/*.*",), patient=acting_for or fnr)
    return SecuredRepository(raw, actor, AccessPolicy())


def current(raw, type: str, id: str) -> dict:
    return orjson.loads(raw.read(type, id).content)


def free_slot(raw) -> dict:
    from ehelse.access.lookup import find

    return next(s for s in find(raw, "Slot", status="free") if s.get("start", "") > date.today().isoformat())


def appointment(patient_id: str, slot: dict) -> dict:
    return {"resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot['id']}"}],
            "start": slot["start"], "end": slot["end"],
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}]}


def test_booking_takes_the_slot_and_cancelling_frees_it(raw):
    slot = free_slot(raw)
    repo = citizen(raw, "kari")
    booked = orjson.loads(repo.create(appointment("demo-kari", slot)).content)
    assert current(raw, "Slot", slot["id"])["status"] == "busy"
    with pytest.raises(Conflict):
        citizen(raw, "ola").create(appointment("demo-ola", slot))
    booked["status"] = "cancelled"
    repo.update(booked)
    assert current(raw, "Slot", slot["id"])["status"] == "free"


def test_two_racing_bookings_of_one_slot_exactly_one_wins(raw):
    slot = free_slot(raw)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def book(key: str, patient_id: str) -> None:
        repo = citizen(raw, key)
        start.wait()
        try:
            repo.create(appointment(patient_id, slot))
            outcomes.append("booked")
        except FhirError as error:
            outcomes.append(str(error.status))

    threads = [threading.Thread(target=book, args=a) for a in (("kari", "demo-kari"), ("ola", "demo-ola"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "booked"]
    assert current(raw, "Slot", slot["id"])["status"] == "busy"


def test_the_recipient_marks_a_message_read_and_may_change_nothing_else(raw):
    message = {"resourceType": "Communication", "status": "completed", "subject": {"reference": "Patient/demo-astrid"},
               "recipient": [{"reference": "Patient/demo-astrid"}], "sent": "2026-01-02T10:00:00Z",
               "payload": [{"contentString": "Svar på prøven"}]}
    created = orjson.loads(raw.create(message).content)
    astrid = citizen(raw, "astrid")
    tampered = {**created, "payload": [{"contentString": "endret"}], "received": "2026-01-03T10:00:00Z"}
    with pytest.raises(Forbidden):
        astrid.update(tampered)
    astrid.update({**created, "received": "2026-01-03T10:00:00Z"})
    assert current(raw, "Communication", created["id"])["received"] == "2026-01-03T10:00:00Z"
    with pytest.raises(FhirError):  # someone else's message: not hers to mark
        citizen(raw, "kari").update({**created, "received": "2026-01-04T10:00:00Z"})


def related(giver: str, holder_fnr: str, **extra) -> dict:
    return {"resourceType": "RelatedPerson", "active": True, "patient": {"reference": f"Patient/{giver}"},
            "identifier": [{"system": FNR, "value": holder_fnr}], **extra}


def test_a_fullmakt_holder_is_named_by_fnr_under_the_rules(raw):
    per = citizen(raw, "per")
    made = per.create(related("demo-per", DEMO_CAST["tor"].fnr))
    assert made.type == "RelatedPerson"
    with pytest.raises(Forbidden, match="18 or over"):
        per.create(related("demo-per", DEMO_CAST["jonas"].fnr))
    with pytest.raises(Forbidden, match="confidential"):
        per.create(related("demo-per", DEMO_CAST["sara"].fnr))
    with pytest.raises(Forbidden, match="registered person"):
        per.create(related("demo-per", "01010112345"))
    with pytest.raises(Forbidden, match="Parental"):
        per.create(related("demo-per", DEMO_CAST["tor"].fnr, relationship=[{"coding": [
            {"system": "http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility", "code": "felles"}]}]))
    with pytest.raises(FhirError):  # a parent acting for a 9-year-old: the giver must be 16
        citizen(raw, "kari", DEMO_CAST["emma"].fnr).create(related("demo-emma", DEMO_CAST["tor"].fnr))
