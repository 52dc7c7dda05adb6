"""The patient summary, in the spirit of the national summary care record (kjernejournal,
DOMAIN.md "Summary care record content"): one screen, no hunting.

Order of the page: critical information (Flag) and allergies first; current medicines as one
list (what, dose, who prescribed it, when); active problems; latest results with trend charts;
recent contacts across organisations; documents from every organisation; the patient's own
measurements and questionnaire answers; vaccinations; next of kin and GP. Every search is in
the patient's compartment (`Patient/<id>/...`), so the access rules decide for the page: care
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


# What the page reads of the record besides the visits, and how many of each at most (the
# page shows fewer; these were the per-type searches' _count). search.html#compartments: one
# search `Patient/<id>/*?_type=...` fetches them all, so the access rules decide, the rows are
# checked and the audit gathers once instead of eleven times; the status filters the per-type
# searches had (Flag status, MedicationRequest status, Condition clinical-status: token
# searches on codes) are applied here to the same elements.
TOGETHER = {"Flag": 50, "AllergyIntolerance": 100, "MedicationRequest": 200, "Condition": 200,
            "Observation": 1000, "DocumentReference": 200, "QuestionnaireResponse": 100, "Immunization": 100,
            "RelatedPerson": 20, "Communication": 200, "ServiceRequest": 100}
TOGETHER_COUNT = 1000  # settings.max_page_size's default; a fuller record is read per type
_FILTERS = {
    "Flag": lambda r: r.get("status") == "active",
    "MedicationRequest": lambda r: r.get("status") in ("active", "on-hold"),
    # a token search without a system matches the code of any coding (search.html#token)
    "Condition": lambda r: any(c.get("code") in ACTIVE_PROBLEM for c in (r.get("clinicalStatus") or {}).get("coding") or []),
}
_ALL = lambda r: True  # noqa: E731
_SEARCHED = {"Flag": {"status": "active"}, "MedicationRequest": {"status": ["active,on-hold"]},
             "Condition": {"clinical_status": "active,recurrence,relapse"}}


def gather(clinician: Any, patient_id: str) -> dict[str, Any]:
    """Everything the page shows, read through the API's access rules (Forbidden if refused)."""
    # Compartment searches (search.html#compartments): the matches are in this record by
    # definition, so the access layer filters only hidden types and labels instead of testing
    # every row against the GP's whole list.
    patient = clinician.shown("Patient", patient_id, on=patient_id)
    # Visits are many (hundreds in a long record) and ten are shown: the database sorts those
    # (a compartment search sorts only this record's rows, search/execute.py).
    contacts = clinician.search(f"Patient/{patient_id}/Encounter", on=patient_id, _total="none", _sort="-date",
                                _count=10)
    by_type: dict[str, list[dict[str, Any]]] = {type: [] for type in TOGETHER}
    # The server caps _count at settings.max_page_size (search.html#count): a page that cap
    # filled is as full as one of TOGETHER_COUNT, and the rows past it are not in it.
    page = min(TOGETHER_COUNT, clinician.router.settings.max_page_size)
    rows = clinician.search(f"Patient/{patient_id}/*", on=patient_id, _type=",".join(TOGETHER), _total="none",
                            _count=page)
    if len(rows) < page:
        for resource in rows:
            type = resource.get("resourceType")
            if type in by_type and _FILTERS.get(type, _ALL)(resource):
                by_type[type].append(resource)
    else:  # a record too full for one page: each type by itself, with the searches' own filters
        for type, count in TOGETHER.items():
            by_type[type] = clinician.search(f"Patient/{patient_id}/{type}", on=patient_id, _total="none",
                                             _count=count, **_SEARCHED.get(type, {}))
    newest = fhirtext.newest_first
    cap = lambda type, *when: newest(by_type[type], *when)[:TOGETHER[type]]  # noqa: E731
    found = {
        "flags": by_type["Flag"][:TOGETHER["Flag"]],
        "allergies": by_type["AllergyIntolerance"][:TOGETHER["AllergyIntolerance"]],
        "medicines": cap("MedicationRequest", "authoredOn"),
        "problems": _once_per_code(cap("Condition", "onsetDateTime", "recordedDate")),
        "observations": cap("Observation", "effectiveDateTime", "issued"),
        "contacts": newest(contacts, "period"),
        "documents": cap("DocumentReference", "date")[:15],
        "answers": cap("QuestionnaireResponse", "authored")[:10],
        "vaccines": cap("Immunization", "occurrenceDateTime"),
        "kin": by_type["RelatedPerson"][:TOGETHER["RelatedPerson"]],
        "messages": cap("Communication", "sent")[:10],
        "referrals": cap("ServiceRequest", "authoredOn")[:10],
        "patient": patient,
    }
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
