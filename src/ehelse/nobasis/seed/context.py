"""SeedContext: everything that makes a seed run deterministic.

Same seed and reference date, same resources: every random choice comes from one seeded
`random.Random`, ids from a second one (so adding a resource type does not shift the ids of
others more than necessary), names from Faker's `no_NO` locale seeded the same way, and every
date is counted from `reference_date`, never from the clock.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

from faker import Faker

from ehelse.nobasis.identifiers import synthetic as _numbers


@dataclass(frozen=True, slots=True)
class Municipality:
    number: str  # kommunenummer, 4 digits
    name: str
    county: str
    weight: int
    postcodes: tuple[tuple[str, str], ...]  # (postnummer, poststed)


def load_municipalities() -> list[Municipality]:
    raw = json.loads(resources.files(__package__).joinpath("data/kommuner.json").read_text("utf-8"))
    return [Municipality(k["number"], k["name"], k["county"], k["weight"],
                         tuple((p[0], p[1]) for p in k["postcodes"])) for k in raw["kommuner"]]


@dataclass
class SeedContext:
    seed: int
    reference_date: date
    stream: str = "seed"  # names the random streams: the demo cast uses its own ("cast")
    rng: random.Random = field(init=False)
    fake: Faker = field(init=False)
    municipalities: list[Municipality] = field(init=False)
    _ids: random.Random = field(init=False)
    _taken: set[str] = field(init=False, default_factory=set)
    _sequence: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"ehelse-{self.stream}-{self.seed}")
        self._ids = random.Random(f"ehelse-{self.stream}-ids-{self.seed}")
        self.fake = Faker("no_NO")
        self.fake.seed_instance(self.seed)
        self.municipalities = load_municipalities()
        self._weights = [m.weight for m in self.municipalities]

    # -- ids and numbers --------------------------------------------------------------------
    def new_id(self) -> str:
        """A UUID-shaped id (a valid FHIR id: id.html) from the seeded id stream. The first 48
        bits count up, as a UUIDv7's time field does, so ids of one type arrive in key order:
        appending to the storage B-trees instead of writing all over them is what keeps a
        million-resource seed fast once the database outgrows the page cache."""
        self._sequence += 1
        h = f"{self._sequence:012x}{self._ids.getrandbits(80):020x}"
        return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def fnr(self, birth_date: date, sex: str) -> str:
        return self._unique(lambda: _numbers.synthetic_fnr(birth_date, sex, self.rng))

    def dnr(self, birth_date: date, sex: str) -> str:
        return self._unique(lambda: _numbers.synthetic_dnr(birth_date, sex, self.rng))

    def hpr(self) -> str:
        return self._unique(lambda: _numbers.synthetic_hpr(self.rng))

    def orgnr(self) -> str:
        return self._unique(lambda: _numbers.synthetic_orgnr(self.rng))

    def resh(self) -> str:
        return self._unique(lambda: _numbers.synthetic_resh(self.rng))

    def reserve(self, number: str) -> None:
        """Mark a fixed number (the demo cast's) as taken so no generated one repeats it."""
        self._taken.add(number)

    def _unique(self, make) -> str:
        while True:
            number = make()
            if number not in self._taken:
                self._taken.add(number)
                return number

    # -- time ---------------------------------------------------------------------------------
    def days_ago(self, days: int) -> date:
        return self.reference_date - timedelta(days=days)

    def days_ahead(self, days: int) -> date:
        return self.reference_date + timedelta(days=days)

    def birth_date(self, age: int) -> date:
        """A birth date giving exactly `age` whole years on the reference date."""
        latest = self.reference_date.replace(year=self.reference_date.year - age) \
            if not (self.reference_date.month == 2 and self.reference_date.day == 29) \
            else self.reference_date.replace(year=self.reference_date.year - age, day=28)
        return latest - timedelta(days=self.rng.randrange(1, 365))

    # -- places -------------------------------------------------------------------------------
    def municipality(self) -> Municipality:
        return self.rng.choices(self.municipalities, weights=self._weights)[0]

    def weighted(self, items: tuple | list, weight_index: int = -1) -> Any:
        return self.rng.choices(items, weights=[i[weight_index] for i in items])[0]
