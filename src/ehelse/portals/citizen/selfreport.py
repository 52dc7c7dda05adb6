"""Self-reported data: home measurements (blood pressure, glucose, weight) stored as
Observations whose performer is the person (so the charts can tell home from clinic), and
questionnaires the care team sent: Questionnaire -> QuestionnaireResponse
(http://hl7.org/fhir/R4/questionnaireresponse.html), which lands in the person's record
where the care team reads it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.errors import BadRequest, NotFound
from ehelse.portals.ui import flash, measure

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# kind -> (LOINC, name key, unit, plausible range): obviously mistyped values are refused.
KINDS = {
    "weight": ("29463-7", "kind_weight", "kg", (Decimal("1"), Decimal("400"))),
    "glucose": ("15074-8", "kind_glucose", "mmol/L", (Decimal("0.5"), Decimal("50"))),
    "blood-pressure": ("85354-9", "kind_blood_pressure", "mmHg", (Decimal("30"), Decimal("300"))),
}


def _number(form: dict[str, Any], name: str, bounds: tuple[Decimal, Decimal], t: Any) -> Decimal:
    raw = str(form.get(name, "")).strip().replace(",", ".").replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(t("measure_not_number")) from None
    if not value.is_finite() or not (bounds[0] <= value <= bounds[1]):
        raise BadRequest(t("measure_out_of_bounds", low=bounds[0], high=bounds[1]))
    return value


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    return {"value": float(value) if value % 1 else int(value), "unit": unit, "system": UCUM, "code": unit}


def measurements(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    if request.method == "POST":
        kind = form.get("kind", "")
        if kind not in KINDS:
            raise BadRequest(t("measure_bad_kind"))
        loinc, key, unit, bounds = KINDS[kind]
        now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        observation: dict[str, Any] = {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs" if kind != "glucose" else "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": loinc}], "text": t(key)},
            "subject": {"reference": citizen.subject, "display": citizen.acting.name},
            "effectiveDateTime": now, "issued": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "performer": [{"reference": citizen.subject, "display": citizen.acting.name}],
            "note": [{"text": t("home_measured_note")}],
        }
        if kind == "blood-pressure":
            systolic, diastolic = _number(form, "systolic", bounds, t), _number(form, "diastolic", bounds, t)
            if diastolic >= systolic:
                raise BadRequest(t("measure_bp_order"))
            observation["component"] = [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}], "text": t("systolic")},
                 "valueQuantity": _quantity(systolic, unit)},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}], "text": t("diastolic")},
                 "valueQuantity": _quantity(diastolic, unit)}]
        else:
            observation["valueQuantity"] = _quantity(_number(form, "value", bounds, t), unit)
        citizen.create(observation)
        flash(request, "success", t("measure_saved"))
        return RedirectResponse(portal.url(f"/provesvar/{loinc}"), status_code=303)
    with measure(request.scope, "fhir"):
        own = citizen.search("Observation", patient=citizen.subject, performer=citizen.subject, _sort="-date", _count=20)
    return portal.render(request, "citizen/measurements.html", citizen, title=t("selfreport_title"), nav="selfreport",
                         own=own, kinds=KINDS)


def questionnaires(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    with measure(request.scope, "fhir"):
        found = citizen.search("Questionnaire", status="active", _count=50)
        answered = citizen.search("QuestionnaireResponse", subject=citizen.subject, _sort="-authored", _count=50)
    titles = {q.get("url"): q.get("title") or q.get("name") for q in found}
    return portal.render(request, "citizen/questionnaires.html", citizen, title=t("questionnaires_title"),
                         nav="selfreport", questionnaires=found, answered=answered, titles=titles)


def questionnaire(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    found = citizen.read("Questionnaire", request.path_params["id"])
    items = [i for i in found.get("item") or [] if i.get("type") in ("integer", "decimal", "boolean", "string", "text", "choice")]
    if not items:
        raise NotFound("nothing to answer")
    if request.method == "POST":
        answers = []
        for item in items:
            raw = str(form.get("q-" + item["linkId"], "")).strip()
            if not raw:
                if item.get("required"):
                    raise BadRequest(t("answer_required", question=item.get("text", item["linkId"])))
                continue
            answers.append({"linkId": item["linkId"], "text": item.get("text"), "answer": [_answer(item, raw, t)]})
        citizen.create({
            "resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": found.get("url") or f"Questionnaire/{found['id']}",
            "subject": {"reference": citizen.subject, "display": citizen.acting.name},
            "authored": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "author": {"reference": citizen.subject}, "source": {"reference": citizen.subject}, "item": answers,
        })
        flash(request, "success", t("answer_saved"))
        return RedirectResponse(portal.url("/skjema"), status_code=303)
    return portal.render(request, "citizen/questionnaire.html", citizen, title=found.get("title") or found.get("name", ""),
                         nav="selfreport", q=found, items=items)


def _answer(item: dict[str, Any], raw: str, t: Any) -> dict[str, Any]:
    kind = item["type"]
    try:
        if kind == "integer":
            return {"valueInteger": int(raw)}
        if kind == "decimal":
            return {"valueDecimal": float(Decimal(raw.replace(",", ".")))}
    except (ValueError, InvalidOperation):
        raise BadRequest(t("answer_not_number", question=item.get("text", ""))) from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise BadRequest(t("answer_required", question=item.get("text", "")))
        return {"valueBoolean": raw == "true"}
    if kind == "choice":
        for option in item.get("answerOption") or []:
            coding = option.get("valueCoding") or {}
            if coding.get("code") == raw:
                return {"valueCoding": coding}
        raise BadRequest(t("answer_required", question=item.get("text", "")))
    return {"valueString": raw[:2000]}
