"""The Norwegian childhood vaccination programme (barnevaksinasjonsprogrammet) and seasonal
influenza vaccines, as Immunization resources with ATC codes (J07).

Doses and ages follow the programme as FHI publishes it; components changed over the years
(pneumococcal vaccine from 2006, rotavirus from 2014, hepatitis B in the combination vaccine
from 2017), so a child gets what the programme gave in their birth year. People born before
1995 have no childhood records (the national register SYSVAK holds electronic records since then).
Immunization: http://hl7.org/fhir/R4/immunization.html.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import add_years, concept, ref
from ehelse.nobasis.seed.vocabulary import ATC

PROGRAMME = "Barnevaksinasjonsprogrammet"
ROTAVIRUS = ("J07BH", "Rotavirusvaksiner")
HEXAVALENT = ("J07CA09", "Difteri-Haemophilus influenzae B-kikhoste-poliomyelitt-stivkrampe-hepatitt B")
PENTAVALENT = ("J07CA06", "Difteri-Haemophilus influenzae B-kikhoste-poliomyelitt-stivkrampe")
PNEUMOCOCCAL = ("J07AL02", "Pneumokokk, renset polysakkaridantigen konjugert")
MMR = ("J07BD52", "Meslinger, kombinasjoner med kusma og røde hunder, levende svekket")
DTP_IPV = ("J07CA02", "Difteri-kikhoste-poliomyelitt-stivkrampe")
HPV = ("J07BM", "Papillomavirusvaksiner")
INFLUENZA = ("J07BB02", "Influensa, inaktivert, splittvirus eller overflateantigen")

# (age in days, vaccine, dose number, first birth year it applies to, who)
SCHEDULE: tuple[tuple[int, tuple[str, str], int, int, str], ...] = (
    (42, ROTAVIRUS, 1, 2014, "all"),
    (91, ROTAVIRUS, 2, 2014, "all"),
    (91, HEXAVALENT, 1, 2017, "all"), (91, PENTAVALENT, 1, 1995, "before-2017"),
    (91, PNEUMOCOCCAL, 1, 2006, "all"),
    (152, HEXAVALENT, 2, 2017, "all"), (152, PENTAVALENT, 2, 1995, "before-2017"),
    (152, PNEUMOCOCCAL, 2, 2006, "all"),
    (365, HEXAVALENT, 3, 2017, "all"), (365, PENTAVALENT, 3, 1995, "before-2017"),
    (365, PNEUMOCOCCAL, 3, 2006, "all"),
    (456, MMR, 1, 1995, "all"),
    (7 * 365 + 30, DTP_IPV, 1, 1995, "all"),
    (11 * 365 + 30, MMR, 2, 1995, "all"),
    (12 * 365 + 60, HPV, 1, 1997, "girls"), (12 * 365 + 240, HPV, 2, 1997, "girls"),
    (15 * 365 + 60, DTP_IPV, 2, 1995, "all"),
)


def immunization(id: str, patient: Any, vaccine: tuple[str, str], day: date, *, performer: dict | None,
                 series: str | None, dose: int | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization", "id": id, "status": "completed",
        "vaccineCode": concept(ATC, *vaccine),
        "patient": ref("Patient", patient.id, patient.display),
        "occurrenceDateTime": day.isoformat(), "primarySource": True,
    }
    if performer:
        resource["performer"] = [{"actor": performer}]
    if series:
        resource["protocolApplied"] = [{"series": series, "doseNumberPositiveInt": dose}]
    return resource


def _applies(who: str, since: int, person: Any) -> bool:
    year = person.birth_date.year
    if year < since:
        return False
    if who == "before-2017":
        return year < 2017
    if who == "girls":  # HPV for boys from the 2006 cohort on (programme from 2018)
        return person.gender == "female" or year >= 2006
    return True


def childhood(ctx: SeedContext, person: Any, performer: dict | None) -> Iterator[dict[str, Any]]:
    """The programme's doses that were due before the reference date (a few are missed)."""
    for age_days, vaccine, dose, since, who in SCHEDULE:
        day = person.birth_date + timedelta(days=age_days + ctx.rng.randint(0, 20))
        if day >= ctx.reference_date or not _applies(who, since, person) or ctx.rng.random() < 0.03:
            continue
        yield immunization(ctx.new_id(), person, vaccine, day, performer=performer, series=PROGRAMME, dose=dose)


def seasonal(ctx: SeedContext, person: Any, performer: dict | None, seasons: int = 8) -> Iterator[dict[str, Any]]:
    """Influenza vaccine each autumn for risk groups (65+ or chronically ill), ~70 % uptake."""
    this_year = ctx.reference_date.year
    for year in range(this_year - seasons, this_year + 1):
        day = date(year, 10, 15) + timedelta(days=ctx.rng.randint(0, 45))
        if day >= ctx.reference_date or day < add_years(person.birth_date, 18) or ctx.rng.random() > 0.7:
            continue
        yield immunization(ctx.new_id(), person, INFLUENZA, day, performer=performer,
                           series=f"Sesonginfluensa {year}/{(year + 1) % 100:02d}", dose=1)
