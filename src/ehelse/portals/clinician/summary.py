"""The patient summary, in the spirit of the national summary care record (kjernejournal,
DOMAIN.md "Summary care record content"): one screen, no hunting.

Order of the page: critical information (Flag) and allergies first; current medicines as one
list (what, dose, who prescribed it, when); active problems; latest results with trend charts;
recent contacts across organisations; documents from every organisation; the patient's own
measurements and questionnaire answers; vaccinations; next of kin and GP. Every search names
the patient (`patient=Patient/<id>`), so the access rules decide once for the whole page: care
relationship, declared purpose, emergency access (ETREAT/BTG), or a 403 that access.py turns
into the page that explains it. Resource shapes: http://hl7.org/fhir/R4/ (flag, allergyintolerance,
medicationrequest, condition, observation, encounter, documentreference, immunization).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.access.consent import privacy_settings
from ehelse.access.policy import EMERGENCY_PURPOSES
from ehelse.errors import Forbidden
from ehelse.nobasis.identifiers.personal import format_person_number
from ehelse.nobasis.seed.vocabulary import DNR, FNR
from ehelse.portals.citizen import fhirtext
from ehelse.portals.clinician import access
from ehelse.portals.ui import Series, line_chart, measure

LOINC = "http://loinc.org"
BLOOD_PRESSURE, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
ACTIVE_PROBLEM = ("active", "recurrence", "relapse")
CHARTS = 3  # trend charts for the tests with the most values


def gather(clinician: Any, patient_id: str) -> dict[str, Any]:
    """Everything the page shows, read through the API's access rules (Forbidden if refused)."""
    # Compartment searches (search.html#compartments, `Patient/<id>/Flag`): the matches are in
    # this record by definition, so the access layer filters only hidden types and labels
    # instead of testing every row against the GP's whole list (a `patient=` parameter that is
    # not the type's compartment parameter, e.g. Flag or Observation, was tested that way).
    call = lambda type, **kw: clinician.search(f"Patient/{patient_id}/{type}", on=patient_id,  # noqa: E731
                                               _total="none", **kw)
    patient = clinician.read("Patient", patient_id, on=patient_id)
    # Mostly no _sort: the rows are few per record and sorted here, and no total is counted.
    # Visits are many (hundreds in a long record) and ten are shown: the database sorts those
    # (a compartment search sorts only this record's rows, search/execute.py).
    newest = fhirtext.newest_first
    found = {
        "flags": call("Flag", status="active", _count=50),
        "allergies": call("AllergyIntolerance", _count=100),
        "medicines": newest(call("MedicationRequest", status=["active,on-hold"], _count=200), "authoredOn"),
        "problems": newest(call("Condition", clinical_status="active,recurrence,relapse", _count=200),
                           "onsetDateTime", "recordedDate"),
        "observations": newest(call("Observation", _count=1000), "effectiveDateTime", "issued"),
        "contacts": newest(call("Encounter", _sort="-date", _count=10), "period"),
        "documents": newest(call("DocumentReference", _count=200), "date")[:15],
        "answers": newest(call("QuestionnaireResponse", _count=100), "authored")[:10],
        "vaccines": newest(call("Immunization", _count=100), "occurrenceDateTime"),
        "kin": call("RelatedPerson", _count=20),
        "messages": newest(call("Communication", _count=200), "sent")[:10],
        "referrals": newest(call("ServiceRequest", _count=100), "authoredOn")[:10],
    }
    found["patient"] = patient
    found["problems"] = _once_per_code(found["problems"])
    return found


def _once_per_code(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A problem once (the newest), however often a GP coded it at visits."""
    seen, out = set(), []
    for condition in conditions:
        key = fhirtext.code_of(condition.get("code")) or fhirtext.concept(condition.get("code"))
        if key not in seen:
            seen.add(key)
            out.append(condition)
    return out


def results(observations: list[dict[str, Any]], patient_id: str) -> tuple[list[dict], list[dict]]:
    """(clinic results grouped per test, newest first; the patient's own measurements)."""
    own, groups = [], defaultdict(list)
    for o in observations:
        if any((p.get("reference") or "") == f"Patient/{patient_id}" for p in o.get("performer") or []):
            own.append(o)
        code = fhirtext.code_of(o.get("code"), LOINC) or fhirtext.code_of(o.get("code"))
        if code:
            groups[code].append(o)
    rows = [{"code": code, "name": fhirtext.concept(found[0].get("code")), "newest": found[0], "points": found,
             "count": len(found), "out_of_range": fhirtext.out_of_range(found[0]),
             "range": fhirtext.reference_range(found[0])} for code, found in groups.items()]
    rows.sort(key=lambda r: fhirtext.when(r["newest"], "effectiveDateTime", "issued"), reverse=True)
    return rows, own


def _chart(row: dict[str, Any], t: Any, lang: str) -> Any:
    unit = ((row["newest"].get("valueQuantity") or {}).get("unit")) or "mmHg"
    if row["code"] == BLOOD_PRESSURE:
        series = [Series(t("systolic"), [(o.get("effectiveDateTime"), fhirtext.component(o, SYSTOLIC)) for o in row["points"]]),
                  Series(t("diastolic"), [(o.get("effectiveDateTime"), fhirtext.component(o, DIASTOLIC))
                                          for o in row["points"]], "home")]
    else:
        series = [Series(row["name"], [(o.get("effectiveDateTime"), fhirtext.quantity_value(o)) for o in row["points"]])]
    low, high = row["range"]
    return line_chart(series, title=row["name"], unit=unit, t=t, lang=lang,
                      reference=(low, high) if low is not None and high is not None else None)


def _component(observation: dict[str, Any], loinc: str) -> Any:
    """The component's value as stored (`128` stays `128`, `127.0` stays `127,0`)."""
    for part in observation.get("component") or []:
        if fhirtext.code_of(part.get("code")) == loinc:
            return (part.get("valueQuantity") or {}).get("value")
    return None


def value_text(observation: dict[str, Any], number: Any, quantity: Any) -> str:
    if observation.get("component") and _component(observation, SYSTOLIC) is not None:
        return f"{number(_component(observation, SYSTOLIC))}/{number(_component(observation, DIASTOLIC))} mmHg"
    if observation.get("valueQuantity"):
        return quantity(observation["valueQuantity"])
    return fhirtext.concept(observation.get("valueCodeableConcept")) or str(observation.get("valueString", ""))


def identity(patient: dict[str, Any]) -> dict[str, Any]:
    number = next((i.get("value") for i in patient.get("identifier") or []
                   if i.get("system") in (FNR, DNR) and i.get("value")), "")
    name = next((n.get("text") or " ".join([*n.get("given", []), n.get("family", "")]).strip()
                 for n in patient.get("name") or []), patient.get("id", ""))
    born = patient.get("birthDate")
    age = None
    if born and len(born) >= 10:
        b, today = date.fromisoformat(born[:10]), date.today()
        age = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
    return {"id": patient["id"], "name": name, "number": format_person_number(number) if number else "",
            "birth_date": born, "age": age, "gender": patient.get("gender"), "gp": patient.get("generalPractitioner") or []}


def summary(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    patient_id = request.path_params["id"]
    try:
        with measure(request.scope, "fhir"):
            found = gather(clinician, patient_id)
    except Forbidden as refusal:
        return access.refused_page(portal, request, clinician, patient_id, refusal)
    lang = t.lang
    rows, own = results(found["observations"], patient_id)
    with measure(request.scope, "charts"):
        charts = [{"row": r, "svg": _chart(r, t, lang)} for r in [r for r in rows if r["count"] >= 2][:CHARTS]]
    declared = clinician.declaration(patient_id)
    restricted = bool(privacy_settings(clinician.raw, patient_id, clinician.policy.today()).restricted_labels)
    return portal.render(
        request, "clinician/summary.html", clinician, title=identity(found["patient"])["name"], nav="patients",
        who=identity(found["patient"]), found=found, rows=rows[:15], charts=charts, own=own[:10], fhirtext=fhirtext,
        value_text=value_text, name_of=clinician.name_of, declared=declared,
        emergency=declared if declared and declared["purpose"] in EMERGENCY_PURPOSES else None,
        restricted=restricted and not declared, care=patient_id in clinician.care_patients(),
        smart_app=bool(portal.smart_app_url))
