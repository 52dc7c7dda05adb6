"""The fixed demo cast: the same people, ids and numbers in every seed of 20 or more
patients, whatever the seed, so a newcomer can log in as them and see the rules at work.
docs/demo-cast.md tells their stories; tests and portals import DEMO_CAST.

Birth dates are fixed (the numbers encode them): the ages below hold for reference dates
from mid-2026 to mid-2027, and the age bands that matter (under 12, 12–15, over 80) until 2028.
Their records are made with a seed of their own and the cast's own organisations only, so
they do not change with `--seed` or `--patients`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ehelse.nobasis.seed import consents, documents, encounters
from ehelse.nobasis.seed.addresses import Place, address
from ehelse.nobasis.seed.care import CareHistory
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.organisations import DEPARTMENTS, DOCTOR, NURSE, Registry, Staff, Unit, organization
from ehelse.nobasis.seed.organisations import practitioner, practitioner_role
from ehelse.nobasis.seed.population import Person, patient_resource
from ehelse.nobasis.seed.vocabulary import ICD10, ICPC2

MINIMUM_PATIENTS = 20  # smaller seeds have no cast


@dataclass(frozen=True, slots=True)
class CastMember:
    key: str
    id: str  # Patient/<id> or Practitioner/<id>
    given: str
    family: str
    gender: str
    birth_date: date | None  # None for personnel (they log in with HPR)
    fnr: str | None = None
    hpr: str | None = None
    role_id: str | None = None  # PractitionerRole/<id>
    organization_id: str | None = None
    orgnr: str | None = None
    story: str = ""

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"


def _p(key, given, family, gender, born, fnr, story) -> CastMember:
    return CastMember(key, f"demo-{key}", given, family, gender, born, fnr=fnr, story=story)


ORG_GP, ORG_HF, ORG_DEPT, ORG_HOME = "demo-legesenter", "demo-sykehus", "demo-medisinsk-avdeling", "demo-hjemmetjeneste"
ORGNR = {ORG_GP: "979513763", ORG_HF: "910802550", ORG_DEPT: "901057893", ORG_HOME: "986182942"}
RESH_DEPT = "9408503"

DEMO_CAST: dict[str, CastMember] = {m.key: m for m in (
    _p("kari", "Kari", "Nordmann", "female", date(1984, 4, 11), "11848441637",
       "Mor til Emma (9) og Jonas (14), felles foreldreansvar med Ola, samme adresse som barna."),
    _p("ola", "Ola", "Nordmann", "male", date(1982, 9, 23), "23898247546",
       "Far til Emma og Jonas, felles foreldreansvar, samme adresse."),
    _p("emma", "Emma", "Nordmann", "female", date(2017, 6, 2), "02861767437",
       "9 år: foreldrene kan se og gjøre alt på hennes vegne."),
    _p("jonas", "Jonas", "Nordmann", "male", date(2012, 8, 20), "20881280958",
       "14 år: foreldrene har begrenset innsyn; en legekontakt om angst er skjermet for foreldre."),
    _p("astrid", "Astrid", "Hansen", "female", date(1944, 3, 5), "05834418438",
       "82 år, hjertesvikt og høyt blodtrykk, hjemmesykepleie; datteren Liv har fullmakt."),
    _p("liv", "Liv", "Hansen", "female", date(1971, 10, 12), "12907131600",
       "Datter av Astrid, har fullmakt (digitale helsetjenester) for moren."),
    _p("per", "Per", "Johansen", "male", date(1975, 1, 30), "30817521394",
       "Har blokkert sykehuslegen Henrik Lund fra kjernejournalen sin."),
    _p("knut", "Knut", "Eriksen", "male", date(1950, 7, 7), "07875010144",
       "Mangler samtykkekompetanse; sønnen Tor er registrert som nærmeste pårørende."),
    _p("tor", "Tor", "Eriksen", "male", date(1978, 2, 15), "15827809540",
       "Sønn av Knut, nærmeste pårørende med rett til å handle for ham."),
    _p("sara", "Sara", "Lie", "female", date(1990, 12, 1), "01929025675",
       "Strengt fortrolig adresse (kode 6): adressen vises ikke, ingen kan representere henne."),
    CastMember("gp", "demo-fastlege-nina-berg", "Nina", "Berg", "female", None, hpr="995651119",
               role_id="demo-fastlege-nina-berg-rolle", organization_id=ORG_GP, orgnr=ORGNR[ORG_GP],
               story="Fastlege ved Demo legesenter, med hele demofamilien og mange andre på listen."),
    CastMember("hospital_doctor", "demo-lege-henrik-lund", "Henrik", "Lund", "male", None, hpr="992974485",
               role_id="demo-lege-henrik-lund-rolle", organization_id=ORG_DEPT, orgnr=ORGNR[ORG_DEPT],
               story="Lege ved Medisinsk avdeling, Demo universitetssykehus HF; skrev Astrids epikrise."),
    CastMember("nurse", "demo-sykepleier-marte-olsen", "Marte", "Olsen", "female", None, hpr="998248286",
               role_id="demo-sykepleier-marte-olsen-rolle", organization_id=ORG_HOME, orgnr=ORGNR[ORG_HOME],
               story="Sykepleier i Hjemmetjenesten Oslo; har Astrid i sin hjemmesykepleie."),
)}


def _oslo(ctx: SeedContext, line: str, postal_code: str) -> Place:
    oslo = next(m for m in ctx.municipalities if m.number == "0301")
    return Place(line, postal_code, "OSLO", oslo)


def _baerum(ctx: SeedContext, line: str) -> Place:
    return Place(line, "1337", "SANDVIKA", next(m for m in ctx.municipalities if m.number == "3201"))


def _staff(member: CastMember, kind: str) -> Staff:
    return Staff(member.id, member.role_id, member.hpr, f"{'Dr. ' if kind != 'nurse' else ''}{member.display}",
                 member.organization_id, kind)


def cast_registry(ctx: SeedContext) -> tuple[Registry, list[dict[str, Any]]]:
    """The cast's own GP office, hospital department and home-care service, with their staff."""
    out: list[dict[str, Any]] = []
    office = Unit(ORG_GP, "Demo legesenter", _oslo(ctx, "Grønlandsleiret 25", "0190"))
    department = Unit(ORG_DEPT, f"{DEPARTMENTS[0]}, Demo universitetssykehus HF", _oslo(ctx, "Sykehusveien 1", "0450"))
    home = Unit(ORG_HOME, "Hjemmetjenesten Oslo", _oslo(ctx, "Kommuneveien 3", "0150"))
    out.append(organization(ORG_GP, office.name, office.place, orgnr=ORGNR[ORG_GP], phone="+47 22 00 00 01"))
    out.append(organization(ORG_HF, "Demo universitetssykehus HF", department.place, orgnr=ORGNR[ORG_HF],
                            phone="+47 22 00 00 02"))
    out.append(organization(ORG_DEPT, department.name, department.place, orgnr=ORGNR[ORG_DEPT], resh=RESH_DEPT,
                            type=("dept", "Hospital Department"), part_of=ORG_HF))
    out.append(organization(ORG_HOME, home.name, home.place, orgnr=ORGNR[ORG_HOME], phone="+47 22 00 00 03"))
    for key, unit, kind, category in (("gp", office, "gp", DOCTOR), ("hospital_doctor", department, "hospital", DOCTOR),
                                      ("nurse", home, "nurse", NURSE)):
        member = DEMO_CAST[key]
        staff = _staff(member, kind)
        unit.staff.append(staff)
        out.append(practitioner(member.id, member.hpr, member.given, member.family, member.gender, category))
        out.append(practitioner_role(member.role_id, staff, category, "2015-01-01"))
    return Registry(gp_offices=[office], departments=[department], home_care=[home]), out


def _person(key: str, place: Place, gp: Staff, **extra) -> Person:
    m = DEMO_CAST[key]
    return Person(m.id, m.fnr, m.given, m.family, m.gender, m.birth_date, place, gp, **extra)


def build(ctx: SeedContext, registry: Registry) -> tuple[list[Person], list[dict[str, Any]]]:
    """The cast's people and everything about them. `ctx` is the cast's own context and
    `registry` the cast's own organisations (cast_registry)."""
    gp = registry.gp_offices[0].staff[0]
    doctor = registry.departments[0].staff[0]
    home = _oslo(ctx, "Tøyengata 12", "0557")
    people = {
        "kari": _person("kari", home, gp), "ola": _person("ola", home, gp), "emma": _person("emma", home, gp),
        "jonas": _person("jonas", home, gp),
        "astrid": _person("astrid", _oslo(ctx, "Bygdøy allé 50", "0265"), gp, tags={"home_care"}),
        "liv": _person("liv", _baerum(ctx, "Sandviksveien 10"), gp),
        "per": _person("per", _oslo(ctx, "Storgata 5", "0155"), gp),
        "knut": _person("knut", _oslo(ctx, "Kirkeveien 100", "0361"), gp, lacks_capacity=True),
        "tor": _person("tor", _oslo(ctx, "Trondheimsveien 80", "0565"), gp),
        "sara": _person("sara", _oslo(ctx, "Ullevålsveien 30", "0171"), gp, confidential="strengt-fortrolig"),
    }
    for person in people.values():
        ctx.reserve(person.fnr)
    out = [patient_resource(p, f"+47 9{i:02d}00000" if p.age(ctx.reference_date) >= 13 else None)
           for i, p in enumerate(people.values())]
    for child in ("emma", "jonas"):
        for parent in ("kari", "ola"):
            out.append(consents.related_person(f"demo-rp-{parent}-{child}", people[child], people[parent],
                                               family="mor" if parent == "kari" else "far", parental="felles",
                                               address=address(home)))
    astrid, liv, knut, tor = people["astrid"], people["liv"], people["knut"], people["tor"]
    out.append(consents.related_person("demo-rp-liv-astrid", astrid, liv, family="barn", address=address(liv.place)))
    out.append(consents.fullmakt("demo-fullmakt-astrid", astrid, "demo-rp-liv-astrid", liv.display,
                                 date(2025, 9, 1), date(2028, 9, 1)))
    out.append(consents.related_person("demo-rp-tor-knut", knut, tor, family="barn", address=address(tor.place)))
    out.append(consents.lack_of_capacity("demo-samtykke-knut", knut, "demo-rp-tor-knut", tor.display,
                                         date(2024, 5, 1), date(2029, 5, 1)))
    out.append(consents.block("demo-blokkering-per", people["per"], doctor.practitioner_id, doctor.name,
                              date(2025, 3, 12)))
    history = CareHistory(ctx, registry)
    for person in people.values():
        fixed = ["heart_failure", "hypertension"] if person is astrid else None
        out.extend(history.of(person, privacy=False, conditions=fixed))
    history.withheld_from_parents(people["jonas"], out)
    _astrid_hospital_stay(ctx, astrid, registry, out)
    return list(people.values()), out


def _astrid_hospital_stay(ctx: SeedContext, astrid: Person, registry: Registry, out: list[dict[str, Any]]) -> None:
    """A stay at the medical department for heart failure, with a discharge summary written by
    the cast's hospital doctor, and an active referral back for a check-up."""
    gp, unit = astrid.gp, registry.departments[0]
    doctor = unit.staff[0]
    admitted = ctx.days_ago(75)
    discharged = admitted + timedelta(days=5)
    encounter_id, condition_id = "demo-innleggelse-astrid", "demo-diagnose-astrid-hjertesvikt"
    diagnosis = (ICD10, "I50", "Hjertesvikt")
    out.append(encounters.encounter(encounter_id, astrid, doctor, unit, "IMP", admitted, end=discharged, hour=14,
                                    reason=diagnosis, condition_ids=[condition_id]))
    out.append(encounters.condition(condition_id, astrid, diagnosis, admitted, recorder=doctor,
                                    encounter_id=encounter_id))
    out.extend(documents.discharge_summary("demo-epikrise-astrid", "demo-epikrise-astrid-tekst", astrid, diagnosis,
                                           unit, doctor, encounter_id, admitted, discharged))
    out.append(encounters.referral(ctx.new_id(), astrid, gp, unit, ctx.days_ago(9),
                                   (ICPC2, "K77", "Hjertesvikt"), status="active"))
