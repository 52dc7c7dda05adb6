"""Lab results and measurements with reference ranges: HbA1c, eGFR, creatinine, LDL
cholesterol, potassium, NT-proBNP, CRP, oxygen saturation, blood pressure and weight.

Observation per http://hl7.org/fhir/R4/observation.html; vital signs in the shape of
observation-vitalsigns (category vital-signs, LOINC code, UCUM units; blood pressure as the
85354-9 panel with systolic and diastolic components). LOINC codes carry no display (LOINC's
own names are English); the Norwegian name is the CodeableConcept's text. HbA1c carries its
NLK (NPU) code beside LOINC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ehelse.nobasis.seed.datatypes import coding, concept, instant, quantity, ref
from ehelse.nobasis.seed.vocabulary import INTERPRETATION, LOINC, NLK, OBSERVATION_CATEGORY


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    text: str  # Norwegian name
    loinc: str
    unit: str
    ucum: str
    category: str  # laboratory | vital-signs
    low: float | None = None
    high: float | None = None
    nlk: str | None = None
    decimals: int = 0


MEASURES = {m.key: m for m in (
    Measure("hba1c", "HbA1c", "59261-8", "mmol/mol", "mmol/mol", "laboratory", 20, 42, nlk="NPU27300"),
    Measure("egfr", "eGFR (CKD-EPI)", "62238-1", "mL/min/1,73 m²", "mL/min/{1.73_m2}", "laboratory", 60, None),
    Measure("ntprobnp", "NT-proBNP", "33762-6", "ng/L", "ng/L", "laboratory", None, 125),
    Measure("spo2", "Oksygenmetning (pulsoksymetri)", "59408-5", "%", "%", "vital-signs", 95, None),
    Measure("weight", "Kroppsvekt", "29463-7", "kg", "kg", "vital-signs", decimals=1),
    Measure("creatinine", "Kreatinin", "14682-9", "µmol/L", "umol/L", "laboratory", 45, 105),
    Measure("ldl", "LDL-kolesterol", "22748-8", "mmol/L", "mmol/L", "laboratory", None, 3.0, decimals=1),
    Measure("potassium", "Kalium", "2823-3", "mmol/L", "mmol/L", "laboratory", 3.5, 5.0, decimals=1),
    Measure("crp", "CRP", "1988-5", "mg/L", "mg/L", "laboratory", None, 5),
)}
BP_SYSTOLIC = Measure("sys", "Systolisk blodtrykk", "8480-6", "mmHg", "mm[Hg]", "vital-signs", 90, 139)
BP_DIASTOLIC = Measure("dia", "Diastolisk blodtrykk", "8462-4", "mmHg", "mm[Hg]", "vital-signs", 60, 89)


def _category(code: str) -> list[dict[str, Any]]:
    display = "Laboratory" if code == "laboratory" else "Vital Signs"
    return [concept(OBSERVATION_CATEGORY, code, display)]


def _code(measure: Measure) -> dict[str, Any]:
    codings = [coding(LOINC, measure.loinc)]
    if measure.nlk:
        codings.append(coding(NLK, measure.nlk))
    return {"coding": codings, "text": measure.text}


def _range(measure: Measure) -> list[dict[str, Any]]:
    """referenceRange (observation.html#Observation.referenceRange): low and/or high."""
    if measure.low is None and measure.high is None:
        return []
    band: dict[str, Any] = {}
    if measure.low is not None:
        band["low"] = quantity(measure.low, measure.unit, measure.ucum)
    if measure.high is not None:
        band["high"] = quantity(measure.high, measure.unit, measure.ucum)
    return [band]


def _interpretation(measure: Measure, value: float) -> list[dict[str, Any]]:
    if measure.high is not None and value > measure.high:
        return [concept(INTERPRETATION, "H", "High")]
    if measure.low is not None and value < measure.low:
        return [concept(INTERPRETATION, "L", "Low")]
    if measure.low is None and measure.high is None:
        return []
    return [concept(INTERPRETATION, "N", "Normal")]


def _value(measure: Measure, value: float) -> float | int:
    return round(value, measure.decimals) if measure.decimals else int(round(value))


def observation(id: str, patient: Any, measure: Measure, value: float, day: date, *, hour: int = 9,
                encounter_id: str | None = None, performer: dict | None = None) -> dict[str, Any]:
    value = _value(measure, value)
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": id, "status": "final",
        "category": _category(measure.category), "code": _code(measure),
        "subject": ref("Patient", patient.id, patient.display),
    }
    if encounter_id:
        resource["encounter"] = ref("Encounter", encounter_id)
    resource["effectiveDateTime"] = instant(day, hour)
    if measure.category == "laboratory":
        resource["issued"] = instant(day, min(hour + 6, 23))
    if performer:
        resource["performer"] = [performer]
    resource["valueQuantity"] = quantity(value, measure.unit, measure.ucum)
    interpretation = _interpretation(measure, value)
    if interpretation:
        resource["interpretation"] = interpretation
    reference_range = _range(measure)
    if reference_range:
        resource["referenceRange"] = reference_range
    return resource


def blood_pressure(id: str, patient: Any, systolic: float, diastolic: float, day: date, *, hour: int = 9,
                   encounter_id: str | None = None, performer: dict | None = None) -> dict[str, Any]:
    """The vital-signs blood pressure panel (LOINC 85354-9) with two components."""
    components = []
    for measure, value in ((BP_SYSTOLIC, systolic), (BP_DIASTOLIC, diastolic)):
        value = _value(measure, value)
        component: dict[str, Any] = {"code": _code(measure), "valueQuantity": quantity(value, measure.unit, measure.ucum),
                                     "interpretation": _interpretation(measure, value),
                                     "referenceRange": _range(measure)}
        components.append(component)
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": id, "status": "final", "category": _category("vital-signs"),
        "code": {"coding": [coding(LOINC, "85354-9")], "text": "Blodtrykk"},
        "subject": ref("Patient", patient.id, patient.display),
    }
    if encounter_id:
        resource["encounter"] = ref("Encounter", encounter_id)
    resource["effectiveDateTime"] = instant(day, hour)
    if performer:
        resource["performer"] = [performer]
    resource["component"] = components
    return resource
