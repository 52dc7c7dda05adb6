"""People in households: parents with parental responsibility and their children at one
registered address, parents who live apart, elderly people whose son or daughter holds a
fullmakt, people lacking capacity with a registered nearest relative, confidential addresses.

Ages are drawn so the Helsenorge rules matter (children under 12, 12–15 and 16–17; adults;
elderly). Every person gets a synthetic FNR (month + 80) or, for a few adults, a D-number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator

from ehelse.nobasis.seed import consents
from ehelse.nobasis.seed.addresses import Place, address, new_place
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import add_years, age_on, identifier
from ehelse.nobasis.seed.organisations import Registry, Staff
from ehelse.nobasis.seed.vocabulary import (
    CONFIDENTIALITY_RESTRICTED, CONFIDENTIALITY_VERY_RESTRICTED, DNR, FNR, LABEL_CONFIDENTIAL_ADDRESS,
    LABEL_STRICTLY_CONFIDENTIAL_ADDRESS, SECURITY_LABEL, V3_CONFIDENTIALITY, label, profile,
)

# Household kinds and how often each is drawn (adults counted per household in `_members`).
KINDS = (("family", 26), ("single_parent", 6), ("couple", 20), ("single", 22), ("elderly", 21), ("young", 10))


@dataclass(slots=True)
class Person:
    id: str
    fnr: str  # the FNR, or the D-number when `dnr`
    given: str
    family: str
    gender: str
    birth_date: date
    place: Place
    gp: Staff
    dnr: bool = False
    confidential: str | None = None  # fortrolig | strengt-fortrolig
    lacks_capacity: bool = False
    tags: set[str] = field(default_factory=set)  # care hints: chronic conditions, home care, ...

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"

    def age(self, day: date) -> int:
        return age_on(self.birth_date, day)


@dataclass(slots=True)
class Household:
    members: list[Person]
    resources: list[dict[str, Any]]  # Patient, RelatedPerson, Consent


def patient_resource(person: Person, phone: str | None) -> dict[str, Any]:
    """A no-basis Patient. A confidential address keeps the address but labels the resource
    (DOMAIN.md: in the style of the national register; access rules hide it)."""
    meta: dict[str, Any] = {"profile": [profile("Patient")]}
    if person.confidential == "fortrolig":
        meta["security"] = [label(SECURITY_LABEL, LABEL_CONFIDENTIAL_ADDRESS),
                            label(V3_CONFIDENTIALITY, CONFIDENTIALITY_RESTRICTED)]
    elif person.confidential == "strengt-fortrolig":
        meta["security"] = [label(SECURITY_LABEL, LABEL_STRICTLY_CONFIDENTIAL_ADDRESS),
                            label(V3_CONFIDENTIALITY, CONFIDENTIALITY_VERY_RESTRICTED)]
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": person.id, "meta": meta,
        "identifier": [identifier(DNR if person.dnr else FNR, person.fnr, "official")],
        "active": True,
        "name": [{"use": "official", "family": person.family, "given": [person.given]}],
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    resource["gender"] = person.gender
    resource["birthDate"] = person.birth_date.isoformat()
    resource["address"] = [address(person.place)]
    resource["generalPractitioner"] = [person.gp.role()]
    return resource


class Population:
    """Makes people and households for one seed run."""

    def __init__(self, ctx: SeedContext, registry: Registry):
        self.ctx = ctx
        self.registry = registry
        self.made = 0

    # -- people -------------------------------------------------------------------------------
    def person(self, age: int, place: Place, *, family: str | None = None, gender: str | None = None,
               dnr: bool = False) -> Person:
        ctx = self.ctx
        gender = gender or ctx.rng.choice(("female", "male"))
        given = ctx.fake.first_name_female() if gender == "female" else ctx.fake.first_name_male()
        birth = ctx.birth_date(age)
        number = ctx.dnr(birth, gender) if dnr else ctx.fnr(birth, gender)
        gp = self.registry.gp_near(ctx, place.municipality.number)
        person = Person(ctx.new_id(), number, given, family or ctx.fake.last_name(), gender, birth, place, gp, dnr)
        self.made += 1
        # A few people have confidential addresses (kode 7 more often than kode 6).
        if age >= 1 and self.made % 257 == 0:
            person.confidential = "strengt-fortrolig" if self.made % (257 * 3) == 0 else "fortrolig"
        return person

    def patient(self, person: Person) -> dict[str, Any]:
        adult = person.age(self.ctx.reference_date) >= 13
        phone = f"+47 {self.ctx.rng.choice('49')}{self.ctx.rng.randint(1000000, 9999999)}" if adult else None
        return patient_resource(person, phone)

    # -- households ---------------------------------------------------------------------------
    def households(self, count: int) -> Iterator[Household]:
        """Households until exactly `count` people are made (the last ones are singles)."""
        made = 0
        while made < count:
            left = count - made
            kind = self.ctx.weighted(KINDS)[0]
            household = getattr(self, "_" + kind)() if left >= 5 else self._single(age=self.ctx.rng.randint(20, 80))
            if len(household.members) > left:  # never overshoot: fall back to a single person
                household = self._single(age=self.ctx.rng.randint(20, 80))
            made += len(household.members)
            yield household

    def _finish(self, members: list[Person], extra: list[dict[str, Any]]) -> Household:
        return Household(members, [self.patient(p) for p in members] + extra)

    def _single(self, age: int | None = None) -> Household:
        rng = self.ctx.rng
        age = age if age is not None else rng.randint(26, 66)
        dnr = 22 <= age <= 60 and rng.random() < 0.08  # foreign workers with a D-number
        return self._finish([self.person(age, new_place(self.ctx), dnr=dnr)], [])

    def _young(self) -> Household:
        return self._single(self.ctx.rng.randint(18, 25))

    def _couple(self) -> Household:
        rng, place = self.ctx.rng, new_place(self.ctx)
        age = rng.randint(24, 66)
        a = self.person(age, place, gender="female")
        b = self.person(max(18, age + rng.randint(-4, 4)), place, family=a.family if rng.random() < 0.5 else None,
                        gender="male" if rng.random() < 0.95 else "female")
        return self._finish([a, b], [])

    def _family(self, parents: int = 2) -> Household:
        ctx, rng = self.ctx, self.ctx.rng
        place = new_place(ctx)
        children_n = rng.choice((1, 2, 2, 3))
        ages = [rng.randint(0, 17) for _ in range(children_n)]
        mother = self.person(max(ages) + rng.randint(22, 38), place, gender="female")
        adults = [mother]
        apart = False
        if parents == 2:
            apart = rng.random() < 0.25  # parents living apart: one at the child's address, one not
            father_place = new_place(ctx, place.municipality if rng.random() < 0.7 else None) if apart else place
            adults.append(self.person(mother.age(ctx.reference_date) + rng.randint(-3, 6), father_place,
                                      family=mother.family if not apart else None, gender="male"))
        children = [self.person(age, place, family=mother.family) for age in ages]
        extra: list[dict[str, Any]] = []
        for child in children:
            for parent in adults:
                code = "felles" if len(adults) == 2 else ("mor" if parent.gender == "female" else "far")
                relation = "mor" if parent.gender == "female" else "far"
                extra.append(consents.related_person(ctx.new_id(), child, parent, family=relation, parental=code,
                                                     address=address(parent.place)))
        for child in children:
            if child.age(ctx.reference_date) >= 12 and rng.random() < 0.3:
                child.tags.add("withheld")  # something a 12–15-year-old asked to keep from parents
        return self._finish(adults + children, extra)

    def _single_parent(self) -> Household:
        return self._family(parents=1)

    def _elderly(self) -> Household:
        """One or two elderly people and a grown-up son or daughter living elsewhere, who may
        hold a fullmakt; sometimes the elder lacks capacity and the child is nearest relative."""
        ctx, rng = self.ctx, self.ctx.rng
        place = new_place(ctx)
        elder = self.person(rng.randint(67, 96), place)
        members = [elder]
        if rng.random() < 0.4:
            members.append(self.person(max(67, elder.age(ctx.reference_date) + rng.randint(-5, 5)), place,
                                       family=elder.family, gender="male" if elder.gender == "female" else "female"))
        child_age = max(18, elder.age(ctx.reference_date) - rng.randint(25, 38))
        child = self.person(child_age, new_place(ctx, place.municipality if rng.random() < 0.6 else None),
                            family=elder.family if rng.random() < 0.6 else None)
        members.append(child)
        extra: list[dict[str, Any]] = []
        today = ctx.reference_date
        elder.tags.add("home_care" if elder.age(today) >= 80 or rng.random() < 0.2 else "independent")
        roll = rng.random()
        if roll < 0.35 and elder.confidential is None and child.confidential is None:
            rp_id = ctx.new_id()
            extra.append(consents.related_person(rp_id, elder, child, family="barn", address=address(child.place)))
            start = ctx.days_ago(rng.randint(30, 1500))
            end = add_years(start, rng.choice((2, 3, 5))) if rng.random() < 0.6 else None
            extra.append(consents.fullmakt(ctx.new_id(), elder, rp_id, child.display, start, end))
        elif roll < 0.40 and elder.confidential is None:
            elder.lacks_capacity = True
            elder.tags.add("home_care")
            rp_id = ctx.new_id()
            extra.append(consents.related_person(rp_id, elder, child, family="barn", address=address(child.place)))
            start = ctx.days_ago(rng.randint(30, 1500))
            extra.append(consents.lack_of_capacity(ctx.new_id(), elder, rp_id, child.display, start, add_years(start, 5)))
        return self._finish(members, extra)
