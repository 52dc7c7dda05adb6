"""Schedules and Slots under the access rules (access/schedules.py): personnel open Slots on
their own Schedule only, citizens write none, and a Schedule naming a Patient stays in that
patient's record."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from access_world import C, TODAY, actor, secured  # noqa: E402
from router_client import RouterClient  # noqa: E402

from ehelse.access.lookup import find  # noqa: E402


def body(response) -> dict:
    return response.resource or orjson.loads(response.body)


def _practitioner(repo, key):
    return RouterClient(secured(repo, actor("practitioner", C[key].hpr, organization=C[key].orgnr)))


def _schedule_of(repo, key) -> str:
    """The seeded Schedule whose actor is this cast member's PractitionerRole."""
    practitioner = find(repo, "Practitioner", identifier=f"urn:oid:2.16.578.1.12.4.1.4.4|{C[key].hpr}")[0]
    roles = [f"PractitionerRole/{r['id']}" for r in find(repo, "PractitionerRole", practitioner=f"Practitioner/{practitioner['id']}")]
    return find(repo, "Schedule", actor=roles)[0]["id"]


def _slot(schedule_id: str, status: str = "free") -> dict:
    day = (TODAY + timedelta(days=5)).isoformat()
    return {"resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule_id}"}, "status": status,
            "start": f"{day}T07:00:00+01:00", "end": f"{day}T07:20:00+01:00"}


def test_a_practitioner_opens_and_closes_a_slot_on_their_own_schedule(world):
    repo, _ = world
    gp, mine = _practitioner(repo, "gp"), _schedule_of(repo, "gp")
    assert gp.get(f"Schedule/{mine}").status == 200  # their own Schedule is visible to them
    created = gp.post("Slot", _slot(mine))
    assert created.status == 201, body(created)
    slot = body(created)
    slot["status"] = "busy-unavailable"
    assert gp.put(f"Slot/{slot['id']}", slot).status == 200
    found = body(gp.get("Slot", query=[("schedule", f"Schedule/{mine}"), ("status", "busy-unavailable")]))
    assert slot["id"] in {e["resource"]["id"] for e in found.get("entry", [])}


def test_a_practitioner_may_not_write_slots_on_another_practitioners_schedule(world):
    repo, _ = world
    gp, theirs = _practitioner(repo, "gp"), _schedule_of(repo, "hospital_doctor")
    assert gp.post("Slot", _slot(theirs)).status in (403, 404)
    existing = find(repo, "Slot", schedule=f"Schedule/{theirs}")[0]
    existing["status"] = "busy-unavailable"
    assert gp.put(f"Slot/{existing['id']}", existing).status in (403, 404)
    # Nor move a Slot of their own Schedule onto another's, nor invent a Schedule for someone else.
    mine = body(gp.post("Slot", _slot(_schedule_of(repo, "gp"))))
    mine["schedule"] = {"reference": f"Schedule/{theirs}"}
    assert gp.put(f"Slot/{mine['id']}", mine).status in (403, 404)
    doctor_role = repo_schedule_actor(repo, theirs)
    assert gp.post("Schedule", {"resourceType": "Schedule", "actor": [{"reference": doctor_role}]}).status == 403


def repo_schedule_actor(repo, schedule_id: str) -> str:
    return orjson.loads(repo.read("Schedule", schedule_id).content)["actor"][0]["reference"]


def test_a_citizen_reads_the_gps_free_slots_but_cannot_create_one(world):
    repo, _ = world
    kari = RouterClient(secured(repo, actor("patient", C["kari"].fnr)))
    gp_schedule = _schedule_of(repo, "gp")
    assert kari.get(f"Schedule/{gp_schedule}").status == 200  # a GP's Schedule is directory data
    free = body(kari.get("Slot", query=[("schedule", f"Schedule/{gp_schedule}"), ("status", "free")]))
    assert free.get("entry"), "the citizen sees the GP's free Slots"
    chained = body(kari.get("Slot", query=[("schedule.actor", repo_schedule_actor(repo, gp_schedule)), ("status", "free")]))
    assert chained.get("entry"), "the chained search through the Schedule finds them too"
    assert kari.post("Slot", _slot(gp_schedule)).status == 403
    assert kari.post("Schedule", {"resourceType": "Schedule", "actor": [{"reference": "Patient/demo-kari"}]}).status == 403


def test_a_schedule_naming_a_patient_stays_in_that_patients_record(world):
    repo, _ = world
    repo.update({"resourceType": "Schedule", "id": "t-sched-astrid", "active": True,
                 "actor": [{"reference": "Patient/demo-astrid"}], "comment": "Hjemmedialyse"})
    kari = RouterClient(secured(repo, actor("patient", C["kari"].fnr)))
    assert kari.get("Schedule/t-sched-astrid").status in (403, 404)
    assert "t-sched-astrid" not in {e["resource"]["id"] for e in body(kari.get("Schedule")).get("entry", [])}
    astrid = RouterClient(secured(repo, actor("patient", C["astrid"].fnr)))
    assert astrid.get("Schedule/t-sched-astrid").status == 200
    # A patient's Schedule is not a practitioner's book: no Slots in it through the Schedule rule.
    assert _practitioner(repo, "gp").post("Slot", _slot("t-sched-astrid")).status == 403
