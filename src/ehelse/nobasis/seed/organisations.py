"""Organisations and health personnel: GP offices (fastlegekontor) with GPs, hospitals
(helseforetak) with departments (RESH), home care (hjemmetjeneste) and pharmacies.

Shapes follow no-basis-Organization (identifier slices ENH and RSH, partOf for departments),
no-basis-Practitioner (HPR identifier, qualification from Volven 9060) and
no-basis-PractitionerRole. A GP's list is `Patient.generalPractitioner` → the GP's
PractitionerRole (DOMAIN.md); population.py fills the lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ehelse.nobasis.seed.addresses import Place, address, new_place
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import concept, identifier, ref
from ehelse.nobasis.seed.vocabulary import ENH, HEALTH_PERSONNEL_CATEGORY, HPR, RESH, profile

ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"

# (Volven 9060 category, role code, role display)
DOCTOR = ("LE", "Lege", "doctor", "Doctor")
NURSE = ("SP", "Sykepleier", "nurse", "Nurse")

DEPARTMENTS = ("Medisinsk avdeling", "Kirurgisk avdeling", "Hjertemedisinsk avdeling", "Barne- og ungdomsklinikken")


@dataclass(slots=True)
class Staff:
    """One person in one role at one organisation: who appears as author, requester, GP."""

    practitioner_id: str
    role_id: str
    hpr: str
    name: str
    organization_id: str
    kind: str  # gp | hospital | nurse

    def practitioner(self) -> dict[str, str]:
        return ref("Practitioner", self.practitioner_id, self.name)

    def role(self) -> dict[str, str]:
        return ref("PractitionerRole", self.role_id, self.name)


@dataclass(slots=True)
class Unit:
    """An organisation that patients meet: a GP office, a department, a home-care service."""

    id: str
    name: str
    place: Place
    staff: list[Staff] = field(default_factory=list)

    def ref(self) -> dict[str, str]:
        return ref("Organization", self.id, self.name)


@dataclass(slots=True)
class Registry:
    """Every organisation and person in a role, for population and care to point at."""

    gp_offices: list[Unit] = field(default_factory=list)
    departments: list[Unit] = field(default_factory=list)
    home_care: list[Unit] = field(default_factory=list)
    pharmacies: list[Unit] = field(default_factory=list)

    def gps(self) -> list[Staff]:
        return [s for office in self.gp_offices for s in office.staff]

    def gp_near(self, ctx: SeedContext, municipality_number: str) -> Staff:
        """A GP in the patient's municipality when there is one, else any GP."""
        local = [s for o in self.gp_offices if o.place.municipality.number == municipality_number for s in o.staff]
        return ctx.rng.choice(local or self.gps())

    def unit_of(self, staff: Staff) -> Unit:
        for unit in (*self.gp_offices, *self.departments, *self.home_care):
            if unit.id == staff.organization_id:
                return unit
        raise KeyError(staff.organization_id)


def organization(id: str, name: str, place: Place, *, orgnr: str | None = None, resh: str | None = None,
                 type: tuple[str, str] = ("prov", "Healthcare Provider"), part_of: str | None = None,
                 phone: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Organization", "id": id,
                                "meta": {"profile": [profile("Organization")]}, "identifier": []}
    if orgnr:
        resource["identifier"].append(identifier(ENH, orgnr))
    if resh:
        resource["identifier"].append(identifier(RESH, resh))
    resource["active"] = True
    resource["type"] = [concept(ORG_TYPE, type[0], type[1])]
    resource["name"] = name
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "work"}]
    resource["address"] = [address(place, use="work", type="both")]
    if part_of:
        resource["partOf"] = ref("Organization", part_of)
    return resource


def practitioner(id: str, hpr: str, given: str, family: str, gender: str, category: tuple) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner", "id": id, "meta": {"profile": [profile("Practitioner")]},
        "identifier": [identifier(HPR, hpr, "official")], "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}], "gender": gender,
        "qualification": [{"code": concept(HEALTH_PERSONNEL_CATEGORY, category[0], category[1])}],
    }


def practitioner_role(id: str, staff: Staff, category: tuple, start: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole", "id": id, "meta": {"profile": [profile("PractitionerRole")]},
        "active": True, "period": {"start": start},
        "practitioner": staff.practitioner(), "organization": ref("Organization", staff.organization_id),
        "code": [concept(ROLE, category[2], category[3])],
    }


def hire(ctx: SeedContext, unit: Unit, kind: str, category: tuple, out: list[dict[str, Any]]) -> Staff:
    """A new practitioner with a role at `unit` (resources appended to `out`)."""
    gender = ctx.rng.choice(("female", "male"))
    given = ctx.fake.first_name_female() if gender == "female" else ctx.fake.first_name_male()
    family = ctx.fake.last_name()
    title = "Dr. " if category is DOCTOR else ""
    staff = Staff(ctx.new_id(), ctx.new_id(), ctx.hpr(), f"{title}{given} {family}", unit.id, kind)
    unit.staff.append(staff)
    out.append(practitioner(staff.practitioner_id, staff.hpr, given, family, gender, category))
    start = f"{ctx.reference_date.year - ctx.rng.randint(1, 25)}-0{ctx.rng.randint(1, 9)}-01"
    out.append(practitioner_role(staff.role_id, staff, category, start))
    return staff


def phone(ctx: SeedContext) -> str:
    return f"+47 {ctx.rng.randint(21, 79)} {ctx.rng.randint(10, 99)} {ctx.rng.randint(10, 99)} {ctx.rng.randint(10, 99)}"


def build(ctx: SeedContext, patients: int, registry: Registry) -> list[dict[str, Any]]:
    """Organisations sized for `patients` people (a Norwegian GP list is ~1,000 people), added
    to `registry` (which may already hold the demo cast's). Returns the resources."""
    out: list[dict[str, Any]] = []
    gp_count = max(3, math.ceil(patients / 900))
    while sum(len(o.staff) for o in registry.gp_offices) < gp_count:
        place = new_place(ctx)
        office = Unit(ctx.new_id(), f"{place.line.split(',')[0].rsplit(' ', 1)[0]} legesenter", place)
        out.append(organization(office.id, office.name, place, orgnr=ctx.orgnr(), phone=phone(ctx)))
        for _ in range(ctx.rng.randint(1, 4)):
            hire(ctx, office, "gp", DOCTOR, out)
        registry.gp_offices.append(office)
    for _ in range(max(1, patients // 4000 + 1) - _hospitals(registry)):
        place = new_place(ctx)
        hf_id, name = ctx.new_id(), f"Sykehuset {place.municipality.name} HF"
        out.append(organization(hf_id, name, place, orgnr=ctx.orgnr(), phone=phone(ctx)))
        for department in DEPARTMENTS:
            unit = Unit(ctx.new_id(), f"{department}, {name}", place)
            out.append(organization(unit.id, unit.name, place, orgnr=ctx.orgnr(), resh=ctx.resh(),
                                    type=("dept", "Hospital Department"), part_of=hf_id))
            for _ in range(2):
                hire(ctx, unit, "hospital", DOCTOR, out)
            registry.departments.append(unit)
    for _ in range(max(1, patients // 3000 + 1) - len(registry.home_care)):
        place = new_place(ctx)
        unit = Unit(ctx.new_id(), f"Hjemmetjenesten {place.municipality.name}", place)
        out.append(organization(unit.id, unit.name, place, orgnr=ctx.orgnr(), phone=phone(ctx)))
        for _ in range(3):
            hire(ctx, unit, "nurse", NURSE, out)
        registry.home_care.append(unit)
    for _ in range(max(2, patients // 2500 + 1) - len(registry.pharmacies)):
        place = new_place(ctx)
        unit = Unit(ctx.new_id(), f"Apotek {place.city.title()} {place.line.split(' ')[0]}", place)
        out.append(organization(unit.id, unit.name, place, orgnr=ctx.orgnr(), phone=phone(ctx)))
        registry.pharmacies.append(unit)
    return out


def _hospitals(registry: Registry) -> int:
    return len(registry.departments) // len(DEPARTMENTS)
