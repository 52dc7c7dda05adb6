"""Same seed and reference date, same resources; another seed, other people."""

from __future__ import annotations

from datetime import date

from seedsupport import REFERENCE_DATE, by_type, population

from ehelse.fhir import jsoncodec


def _bytes(resources: list[dict]) -> list[bytes]:
    return [jsoncodec.dumps(r) for r in resources]


def test_same_seed_gives_identical_resources(seeded):
    again = population(50, 1)
    assert _bytes(again) == _bytes(seeded)


def test_different_seed_gives_different_people(seeded):
    other = population(50, 2)
    names = lambda rs: {(p["name"][0]["family"], p["birthDate"]) for p in by_type(rs, "Patient") if not p["id"].startswith("demo-")}
    ids = lambda rs: {p["id"] for p in by_type(rs, "Patient") if not p["id"].startswith("demo-")}
    assert names(other) != names(seeded)
    assert not ids(other) & ids(seeded)


def _about_cast(resource: dict) -> bool:
    if resource["id"].startswith("demo-"):
        return True
    subject = resource.get("subject") or resource.get("patient") or {}
    return subject.get("reference", "").startswith("Patient/demo-")


def test_cast_does_not_depend_on_seed_or_size(seeded):
    other = population(30, 99)
    cast = lambda rs: {r["id"]: jsoncodec.dumps(r) for r in rs if _about_cast(r)}
    assert cast(other) == cast(seeded)
    assert len(cast(seeded)) >= 100  # the cast's records, not only their Patients


def test_dates_follow_the_reference_date():
    later = population(20, 1, date(2027, 11, 27))
    first = population(20, 1, REFERENCE_DATE)
    appointment = lambda rs: sorted(a["start"] for a in by_type(rs, "Appointment") if a["status"] == "booked")
    assert appointment(later) and appointment(first)
    assert appointment(later)[0][:4] == "2027"
    assert all(a >= "2026-11-27" for a in appointment(first))
