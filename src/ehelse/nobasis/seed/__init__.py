"""`ehelse seed`: a synthetic, deterministic Norwegian population.

    seed(repo, patients=500, seed=1) -> SeedReport

writes organisations and health personnel, the fixed demo cast (cast.py, docs/demo-cast.md)
and `patients` people in households with their care histories. The same seed and reference
date give the same resources. Modules, in the order the data is made:

    context.py        SeedContext: seeded randomness, ids, synthetic numbers, dates
    vocabulary.py     systems, profiles and codes (also for access rules and portals)
    datatypes.py      builders for References, CodeableConcepts, Quantities, dates
    addresses.py      no-basis addresses with real kommunenummer and postnummer (data/kommuner.json)
    organisations.py  GP offices, hospitals and departments, home care, pharmacies; personnel
    scheduling.py     Schedules, free Slots, Appointments
    cast.py           the fixed demo cast (DEMO_CAST)
    population.py     people in households; parental responsibility, fullmakt, lack of capacity
    consents.py       RelatedPerson and Consent in the DOMAIN.md shape
    care.py           a person's care history, with encounters.py, chronic.py, observations.py,
                      immunization.py, documents.py and dialogue.py
    writer.py         batched writing with sampled validation; database size
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

from ehelse.nobasis.seed import cast, dialogue, organisations, scheduling
from ehelse.nobasis.seed.care import CareHistory
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.organisations import Registry
from ehelse.nobasis.seed.population import Population
from ehelse.nobasis.seed.writer import BATCH, BatchWriter, Finding, database_size

__all__ = ["SeedReport", "generate", "seed", "DEMO_CAST"]

DEMO_CAST = cast.DEMO_CAST


@dataclass(slots=True)
class SeedReport:
    patients: int
    seed: int
    reference_date: date
    seconds: float
    resources: dict[str, int] = field(default_factory=dict)  # by resource type
    database_bytes: int | None = None
    validated: int = 0  # resources in the validation sample
    findings: list[Finding] = field(default_factory=list)  # validation errors in the sample

    @property
    def total(self) -> int:
        return sum(self.resources.values())

    @property
    def seconds_per_1000_patients(self) -> float:
        return self.seconds * 1000 / max(self.patients, 1)

    @property
    def resources_per_patient(self) -> float:
        return self.total / max(self.patients, 1)

    def per_patient(self) -> dict[str, float]:
        return {t: n / max(self.patients, 1) for t, n in sorted(self.resources.items(), key=lambda kv: -kv[1])}


def generate(patients: int, seed: int, reference_date: date | None = None) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The population as chunks of resources, each with the number of people it completes.
    Every reference points at a resource of an earlier or the same chunk."""
    if patients < 0:
        raise ValueError("patients must be 0 or more")
    reference_date = reference_date or date.today()
    ctx = SeedContext(seed, reference_date)
    registry = Registry()
    cast_people: list = []
    cast_resources: list[dict[str, Any]] = []
    if patients >= cast.MINIMUM_PATIENTS:
        cast_ctx = SeedContext(0, reference_date, stream="cast")
        cast_registry, cast_organisations = cast.cast_registry(cast_ctx)
        yield cast_organisations, 0
        cast_people, cast_resources = cast.build(cast_ctx, cast_registry)
        for member in cast.DEMO_CAST.values():
            for number in (member.fnr, member.hpr, member.orgnr):
                if number:
                    ctx.reserve(number)
        ctx.reserve(cast.RESH_DEPT)
        registry.gp_offices += cast_registry.gp_offices
        registry.departments += cast_registry.departments
        registry.home_care += cast_registry.home_care
    yield organisations.build(ctx, patients, registry), 0
    yield list(scheduling.schedules(ctx, registry)) + list(dialogue.questionnaires(reference_date)), 0
    if cast_people:
        yield cast_resources, len(cast_people)
    population, history = Population(ctx, registry), CareHistory(ctx, registry)
    for household in population.households(patients - len(cast_people)):
        resources = household.resources
        for person in household.members:
            resources.extend(history.of(person))
        yield resources, len(household.members)


def seed(repo: Any, patients: int, seed: int, progress: Callable[[int, int], None] | None = None, *,
         reference_date: date | None = None, validate_every: int = 100, batch_size: int = BATCH) -> SeedReport:
    """Write a population of `patients` people into `repo`; `progress(done, total)` is called
    as people are written. Returns counts, timing, database size and the validation sample's
    findings (empty when every sampled resource validates)."""
    reference_date = reference_date or date.today()
    started = time.perf_counter()
    writer = BatchWriter(repo, batch_size=batch_size, validate_every=validate_every)
    done = 0
    for resources, people in generate(patients, seed, reference_date):
        writer.add_all(resources)
        done += people
        if progress:
            progress(done, patients)
    writer.flush()
    return SeedReport(patients, seed, reference_date, time.perf_counter() - started, dict(writer.counts),
                      database_size(repo), writer.validated, writer.findings)
