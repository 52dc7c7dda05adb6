"""The health record: conditions, medicines (current and history), allergies and critical
information, vaccinations, visit history, lab results and measurements (tables, and trend
charts with reference ranges), and documents from every organisation."""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.errors import NotFound
from ehelse.portals.citizen import fhirtext
from ehelse.portals.ui import Series, line_chart, measure

BLOOD_PRESSURE = "85354-9"  # LOINC panel; systolic 8480-6, diastolic 8462-4 as components
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
LOINC = "http://loinc.org"
VISITS = 50  # visits shown in the record


def record(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    s = citizen.subject
    with measure(request.scope, "fhir"):
        conditions = fhirtext.newest_first(citizen.search("Condition", patient=s, _count=200),
                                           "onsetDateTime", "recordedDate")
        allergies = citizen.search("AllergyIntolerance", patient=s, _count=100)
        flags = citizen.search("Flag", patient=s, _count=50)
        vaccines = fhirtext.newest_first(citizen.search("Immunization", patient=s, _count=200), "occurrenceDateTime")
        # The 50 newest visits only (a record may hold hundreds), sorted by the database;
        # shown by start (a descending date sort orders a Period by its end, search.html#_sort).
        visits = sorted(citizen.search("Encounter", patient=s, _sort="-date", _count=VISITS),
                        key=lambda e: (e.get("period") or {}).get("start") or "", reverse=True)
    active = [c for c in conditions if fhirtext.status_code(c.get("clinicalStatus")) in ("active", "recurrence", "relapse")]
    earlier = [c for c in conditions if c not in active]
    return portal.render(request, "citizen/record.html", citizen, title=t("record_title"), nav="record",
                         active=active, earlier=_unique(earlier), allergies=allergies, flags=flags, vaccines=vaccines,
                         visits=visits, fhirtext=fhirtext)


def _unique(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier conditions once per diagnosis (the newest), a GP's repeated codes folded."""
    seen, out = set(), []
    for c in conditions:
        key = fhirtext.concept(c.get("code"))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def medicines(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    with measure(request.scope, "fhir"):
        found = fhirtext.newest_first(citizen.search("MedicationRequest", patient=citizen.subject, _count=500),
                                      "authoredOn")
    current = [m for m in found if m.get("status") in ("active", "on-hold")]
    history = [m for m in found if m not in current]
    return portal.render(request, "citizen/medicines.html", citizen, title=t("medicines_title"), nav="record",
                         current=current, history=history, fhirtext=fhirtext)


def _observations(citizen: Any, request: Request, **params: Any) -> list[dict[str, Any]]:
    with measure(request.scope, "fhir"):
        return citizen.search("Observation", patient=citizen.subject, _count=1000, **params)


def results(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """One row per test or measurement: the newest value, its reference range, how many."""
    t = portal.pages.translator(request)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in fhirtext.newest_first(_observations(citizen, request), "effectiveDateTime", "issued"):
        code = fhirtext.code_of(o.get("code"), LOINC) or fhirtext.code_of(o.get("code"))
        if code:
            groups[code].append(o)
    rows = []
    for code, found in groups.items():
        newest = found[0]
        category = fhirtext.code_of((newest.get("category") or [{}])[0]) or ""
        rows.append({"code": code, "name": fhirtext.concept(newest.get("code")), "newest": newest,
                     "count": len(found), "category": category, "value": _value_text(newest, portal, request),
                     "out_of_range": fhirtext.out_of_range(newest), "range": fhirtext.reference_range(newest)})
    rows.sort(key=lambda r: (r["category"] != "laboratory", r["name"]))
    return portal.render(request, "citizen/results.html", citizen, title=t("results_title"), nav="results",
                         rows=rows, fhirtext=fhirtext)


def result(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """One test over time: a chart (clinic and home measurements, reference range) and a table."""
    t = portal.pages.translator(request)
    code = request.path_params["code"]
    if not code.replace("-", "").isalnum() or len(code) > 20:
        raise NotFound("no such test")
    found = fhirtext.newest_first(_observations(citizen, request, code=f"{LOINC}|{code}"), "effectiveDateTime")
    if not found:
        raise NotFound("no such test")
    name = fhirtext.concept(found[0].get("code"))
    chart = chart_for(found, name, t, portal.pages.translator(request).lang, citizen)
    rows = [{"when": o.get("effectiveDateTime"), "value": _value_text(o, portal, request), "home": is_home(o, citizen),
             "out_of_range": fhirtext.out_of_range(o), "by": citizen.reference_display((o.get("performer") or [None])[0])}
            for o in found]
    return portal.render(request, "citizen/result.html", citizen, title=name, nav="results", chart=chart, rows=rows,
                         range=fhirtext.reference_range(found[0]), unit=_unit(found[0]))


def is_home(observation: dict[str, Any], citizen: Any) -> bool:
    """Measured by the person at home: the performer is the Patient themself (selfreport.py)."""
    return any((p.get("reference") or "").startswith("Patient/") for p in observation.get("performer") or [])


def chart_for(found: list[dict[str, Any]], name: str, t: Any, lang: str, citizen: Any) -> Any:
    unit = _unit(found[0])
    if any(o.get("component") for o in found):  # blood pressure: one line per component
        series = []
        for loinc, key in ((SYSTOLIC, "systolic"), (DIASTOLIC, "diastolic")):
            for home in (False, True):
                points = [(o.get("effectiveDateTime"), fhirtext.component(o, loinc)) for o in found
                          if is_home(o, citizen) == home]
                label = t(key) + (f" ({t('home_measured')})" if home else "")
                series.append(Series(label, points, "home" if home else ("clinic" if key == "systolic" else "extra")))
        return line_chart(series, title=name, unit="mmHg", t=t, lang=lang)
    clinic = [(o.get("effectiveDateTime"), fhirtext.quantity_value(o)) for o in found if not is_home(o, citizen)]
    home = [(o.get("effectiveDateTime"), fhirtext.quantity_value(o)) for o in found if is_home(o, citizen)]
    low, high = fhirtext.reference_range(found[0])
    reference = (low, high) if low is not None and high is not None else None
    return line_chart([Series(t("clinic_measured"), clinic), Series(t("home_measured"), home, "home")],
                      title=name, unit=unit, t=t, lang=lang, reference=reference)


def _unit(observation: dict[str, Any]) -> str:
    if observation.get("component"):
        return "mmHg"
    return (observation.get("valueQuantity") or {}).get("unit", "")


def _value_text(observation: dict[str, Any], portal: Any, request: Request) -> str:
    from ehelse.portals.ui.formatting import format_number, format_quantity

    lang = portal.pages.translator(request).lang
    if observation.get("component"):
        sys, dia = fhirtext.component(observation, SYSTOLIC), fhirtext.component(observation, DIASTOLIC)
        return f"{format_number(sys, lang, 0)}/{format_number(dia, lang, 0)} mmHg"
    if "valueQuantity" in observation:
        return format_quantity(observation["valueQuantity"], lang)
    return fhirtext.concept(observation.get("valueCodeableConcept")) or str(observation.get("valueString", ""))


def documents(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    if "DocumentReference" in citizen.rights.hidden_types:
        raise NotFound("documents are not shown to parents of a 12-15 year old")
    with measure(request.scope, "fhir"):
        found = citizen.search("DocumentReference", patient=citizen.subject, _sort="-date", _count=200)
    rows = [{"doc": d, "type": fhirtext.concept(d.get("type")), "org": _organisation(d, citizen)} for d in found]
    return portal.render(request, "citizen/documents.html", citizen, title=t("documents_title"), nav="documents",
                         rows=rows)


def _organisation(document: dict[str, Any], citizen: Any) -> str:
    custodian = document.get("custodian")
    if custodian:
        return citizen.reference_display(custodian)
    orgs = [a for a in document.get("author") or [] if (a.get("reference") or "").startswith("Organization/")]
    return citizen.reference_display(orgs[0]) if orgs else ""


def document(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """Open and read a document: its text from the Binary (or inline data) it points at."""
    t = portal.pages.translator(request)
    if "DocumentReference" in citizen.rights.hidden_types:
        raise NotFound("documents are not shown to parents of a 12-15 year old")
    with measure(request.scope, "fhir"):
        doc = citizen.read("DocumentReference", request.path_params["id"])
        attachment = ((doc.get("content") or [{}])[0]).get("attachment") or {}
        text = _attachment_text(citizen, attachment)
    return portal.render(request, "citizen/document.html", citizen, title=fhirtext.concept(doc.get("type")) or t("document"),
                         nav="documents", doc=doc, text=text, org=_organisation(doc, citizen),
                         authors=[citizen.reference_display(a) for a in doc.get("author") or []])


def _attachment_text(citizen: Any, attachment: dict[str, Any]) -> str | None:
    """Plain text shown as text (escaped by the template); other types are not rendered."""
    data = attachment.get("data")
    content_type = attachment.get("contentType", "")
    url = attachment.get("url", "")
    if data is None and url.startswith("Binary/"):
        binary = citizen.read("Binary", url.split("/", 1)[1])
        data, content_type = binary.get("data"), binary.get("contentType", content_type)
    if data is None or not content_type.startswith("text/"):
        return None
    try:
        return base64.b64decode(data).decode("utf-8", errors="replace")
    except ValueError:
        return None
