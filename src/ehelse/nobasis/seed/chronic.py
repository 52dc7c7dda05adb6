"""Chronic conditions — diabetes, COPD, heart failure, hypertension — followed over years.

Each condition goes on the problem list (ICPC-2, active) and brings regular GP follow-ups
with the measurements that go with it: HbA1c and weight for diabetes, blood pressure for
hypertension, NT-proBNP and weight for heart failure, oxygen saturation for COPD, and a yearly
panel (eGFR, creatinine, LDL cholesterol; potassium on blood-pressure medicines) for all but COPD. Values drift the way treated chronic disease does (HbA1c falls
towards target, eGFR declines slowly). Medicines are prescribed once a year (a Norwegian
e-prescription is valid a year): older prescriptions completed, the latest active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ehelse.nobasis.seed import encounters, observations
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import add_years, concept, instant, ref
from ehelse.nobasis.seed.organisations import Staff, Unit
from ehelse.nobasis.seed.vocabulary import ATC, ATC_MEDICINES, CHRONIC, CHRONIC_MEDICINES, ICPC2

HISTORY_YEARS = 10  # follow-ups further back than this are not generated

# Prevalence by age band: (from age, to age, probability). Rough Norwegian figures.
PREVALENCE = {
    "hypertension": ((30, 49, 0.08), (50, 66, 0.25), (67, 120, 0.45)),
    "diabetes": ((30, 49, 0.03), (50, 66, 0.08), (67, 120, 0.14)),
    "copd": ((40, 66, 0.04), (67, 120, 0.10)),
    "heart_failure": ((55, 66, 0.02), (67, 120, 0.07)),
}


def draw_conditions(ctx: SeedContext, age: int) -> list[str]:
    found = []
    for name, bands in PREVALENCE.items():
        for low, high, p in bands:
            if low <= age <= high and ctx.rng.random() < p:
                found.append(name)
    return found


@dataclass(slots=True)
class Baseline:
    """Where a person's values start and how they drift per year."""

    hba1c: float
    egfr: float
    weight: float
    systolic: float
    ntprobnp: float
    spo2: float


def medication_request(id: str, patient: Any, medicine: str, gp: Staff, authored: date, *, active: bool,
                       reason: tuple[str, str] | None, security: list[dict] | None = None) -> dict[str, Any]:
    """A prescription (e-resept): MedicationRequest, intent order, valid one year."""
    code, name, dosage = ATC_MEDICINES[medicine]
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": id}
    if security:
        resource["meta"] = {"security": security}
    resource.update({
        "status": "active" if active else "completed", "intent": "order",
        "medicationCodeableConcept": concept(ATC, code, name),
        "subject": ref("Patient", patient.id, patient.display),
        "authoredOn": instant(authored, 10), "requester": gp.role(),
    })
    if reason:
        resource["reasonCode"] = [concept(ICPC2, *reason)]
    resource["dosageInstruction"] = [{"text": dosage}]
    resource["dispenseRequest"] = {"validityPeriod": {"start": authored.isoformat(),
                                                      "end": add_years(authored, 1).isoformat()}}
    return resource


def chronic_care(ctx: SeedContext, person: Any, conditions: list[str], gp: Staff, office: Unit,
                 out: list[dict[str, Any]]) -> list[str]:
    """Problem-list Conditions, follow-ups with measurements and prescriptions for `person`.
    Appends to `out`; returns the ids of the active MedicationRequests."""
    rng, today = ctx.rng, ctx.reference_date
    age = person.age(today)
    base = Baseline(hba1c=rng.uniform(55, 80), egfr=rng.uniform(55, 95) - max(0, age - 60) * 0.4,
                    weight=rng.uniform(60, 80) if person.gender == "female" else rng.uniform(72, 98),
                    systolic=rng.uniform(138, 165), ntprobnp=rng.uniform(300, 1500), spo2=rng.uniform(91, 96))
    window_start = today - timedelta(days=365 * HISTORY_YEARS)
    first_onset = today
    for name in conditions:
        onset = today - timedelta(days=rng.randint(200, 365 * 12))
        first_onset = min(first_onset, onset)
        code, display = CHRONIC[name]["icpc2"]
        out.append(encounters.condition(ctx.new_id(), person, (ICPC2, code, display), onset, recorder=gp,
                                        problem_list=True))
    # Follow-ups every 3-5 months from diagnosis (or the history window) until now.
    main_code, main_display = CHRONIC[conditions[0]]["icpc2"]
    day = max(first_onset, window_start) + timedelta(days=rng.randint(10, 60))
    visit = 0
    while day < today - timedelta(days=3):
        years = (day - first_onset).days / 365
        encounter_id = ctx.new_id()
        out.append(encounters.encounter(encounter_id, person, gp, office, "AMB", day, hour=rng.randint(8, 14),
                                        reason=(ICPC2, main_code, main_display)))
        performer = gp.role()

        def measure(key: str, value: float) -> None:
            out.append(observations.observation(ctx.new_id(), person, observations.MEASURES[key], value, day,
                                                encounter_id=encounter_id, performer=performer))

        if "diabetes" in conditions:
            measure("hba1c", max(38, base.hba1c - 4 * min(years, 2) + rng.gauss(0, 3)))
        if "diabetes" in conditions or "heart_failure" in conditions or visit % 2 == 0:
            measure("weight", base.weight + rng.gauss(0, 1.2) + 0.3 * years)
        if {"hypertension", "diabetes", "heart_failure"} & set(conditions):
            systolic = base.systolic - 8 * min(years, 1.5) + rng.gauss(0, 6)
            out.append(observations.blood_pressure(ctx.new_id(), person, systolic, systolic * 0.6 + rng.gauss(0, 4),
                                                   day, encounter_id=encounter_id, performer=performer))
        if "heart_failure" in conditions and visit % 2 == 0:
            measure("ntprobnp", max(80, base.ntprobnp * (1 + rng.gauss(0, 0.25))))
        if "copd" in conditions:
            measure("spo2", min(99, base.spo2 + rng.gauss(0, 1)))
        if visit % 3 == 0 and conditions != ["copd"]:  # the yearly kidney and lipid panel
            egfr = max(15, base.egfr - 1.5 * years + rng.gauss(0, 3))
            measure("egfr", egfr)
            measure("creatinine", 7000 / (egfr + 10) + rng.gauss(0, 4))
            measure("ldl", max(1.2, rng.gauss(2.8, 0.6)))
            if {"heart_failure", "hypertension"} & set(conditions):
                measure("potassium", rng.gauss(4.2, 0.35))
        visit += 1
        day += timedelta(days=rng.randint(90, 150))
    return _prescriptions(ctx, person, conditions, gp, max(first_onset, window_start), out)


def _prescriptions(ctx: SeedContext, person: Any, conditions: list[str], gp: Staff, since: date,
                   out: list[dict[str, Any]]) -> list[str]:
    active: list[str] = []
    for name in conditions:
        reason = CHRONIC[name]["icpc2"]
        for medicine in ctx.rng.sample(CHRONIC_MEDICINES[name], k=min(2, len(CHRONIC_MEDICINES[name]))):
            authored = since + timedelta(days=ctx.rng.randint(0, 60))
            while True:
                renewed = add_years(authored, 1)
                is_last = renewed > ctx.reference_date
                request_id = ctx.new_id()
                out.append(medication_request(request_id, person, medicine, gp, authored, active=is_last,
                                              reason=reason))
                if is_last:
                    active.append(request_id)
                    break
                authored = renewed
    return active


def medication_list(id: str, patient: Any, gp: Staff, request_ids: list[str], day: date) -> dict[str, Any]:
    """The current medication list: a List (code `medications`) of the active prescriptions.
    We chose List over MedicationStatement: one resource per person, entries point at the
    MedicationRequests that are the source of truth (list.html)."""
    return {
        "resourceType": "List", "id": id, "status": "current", "mode": "working", "title": "Legemiddelliste",
        "code": concept("http://terminology.hl7.org/CodeSystem/list-example-use-codes", "medications",
                        "Medication List", "Legemiddelliste"),
        "subject": ref("Patient", patient.id, patient.display), "date": instant(day, 8), "source": gp.role(),
        "entry": [{"item": ref("MedicationRequest", r)} for r in request_ids],
    }
