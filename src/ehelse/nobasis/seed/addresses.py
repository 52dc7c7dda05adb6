"""Norwegian addresses in the no-basis shape.

An officially registered address (Folkeregisteret for people, Enhetsregisteret for
organisations) carries the `no-basis-address-official` extension; the municipality goes in
`district` with its kommunenummer in the `no-basis-municipalitycode` extension on
`_district` (no-basis-Address, Address.district.extension:municipalitycode). Street names come
from Faker's no_NO locale; postnummer/poststed pairs are real ones of that municipality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ehelse.nobasis.seed.context import Municipality, SeedContext
from ehelse.nobasis.seed.vocabulary import EXT_ADDRESS_OFFICIAL, EXT_MUNICIPALITY, KOMMUNENUMMER


@dataclass(frozen=True, slots=True)
class Place:
    """A street address in a municipality: what people in one household share."""

    line: str
    postal_code: str
    city: str
    municipality: Municipality


def new_place(ctx: SeedContext, municipality: Municipality | None = None) -> Place:
    municipality = municipality or ctx.municipality()
    postal_code, city = ctx.rng.choice(municipality.postcodes)
    line = f"{ctx.fake.street_name()} {ctx.rng.randint(1, 120)}"
    if ctx.rng.random() < 0.25:  # flats: H-numbers (bolignummer) as Norwegian addresses write them
        line += f", H0{ctx.rng.randint(1, 4)}0{ctx.rng.randint(1, 4)}"
    return Place(line, postal_code, city, municipality)


def address(place: Place, *, use: str = "home", official: bool = True, type: str | None = None) -> dict[str, Any]:
    """A no-basis Address for `place`; `official` marks the registered one."""
    result: dict[str, Any] = {}
    if official:
        result["extension"] = [{"url": EXT_ADDRESS_OFFICIAL, "valueBoolean": True}]
    result["use"] = use
    if type:
        result["type"] = type
    result["line"] = [place.line]
    result["city"] = place.city
    result["district"] = place.municipality.name
    result["_district"] = {"extension": [{
        "url": EXT_MUNICIPALITY,
        "valueCoding": {"system": KOMMUNENUMMER, "code": place.municipality.number,
                        "display": place.municipality.name},
    }]}
    result["postalCode"] = place.postal_code
    result["country"] = "NO"
    return result
