"""Documenting with few clicks: one small form per kind, each a FHIR create through the same
router and access rules as the API (a practitioner with a care relationship may write; emergency
access is read-only, access/policy.py RIGHTS).

    note           DocumentReference with the text inline (documentreference.html; the citizen
                   portal lists DocumentReferences, so the patient sees the note)
    measurement    Observation, category vital-signs (observation-vitalsigns.html: blood pressure
                   as the 85354-9 panel with systolic/diastolic components, LOINC codes)
    problem        Condition on the problem list: ICPC-2 in primary care, ICD-10 in hospitals
                   (DOMAIN.md, "Code systems"), the code chosen by type-ahead (/kodeverk)
    medication     MedicationRequest (ATC code) to start, or the active one set to `stopped`
    referral       ServiceRequest intent `order` to an organisation: it is in that department's
                   inbox (day.py searches `performer`) and gives it a care relationship
    reply          Communication to the patient, `inResponseTo` the patient's message
    questionnaire  Communication to the patient whose payload references the Questionnaire (the
                   citizen portal shows messages and lists the active Questionnaires to answer)
A checkbox marks a note, problem or medicine as withheld from parents (meta.security
`withheld-from-parents`, the label access/policy.py hides from parents of a 12-15 year old).
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.access.policy import WITHHELD_FROM_PARENTS
from ehelse.errors import BadRequest, Forbidden, NotFound
from ehelse.nobasis.seed.vocabulary import (
    ATC, CONDITION_CATEGORY, CONDITION_CLINICAL, CONDITION_VERIFICATION, ICD10, ICPC2, LABEL_WITHHELD_FROM_PARENTS,
    LOINC, OBSERVATION_CATEGORY, SECURITY_LABEL, SNOMED,
)
from ehelse.portals.clinician import access
from ehelse.portals.ui import flash, measure
from ehelse.terminology.expand import expand

KINDS = ("note", "measurement", "problem", "medication", "referral", "reply", "questionnaire")
CODE_SYSTEMS = {"icpc2": ICPC2, "icd10": ICD10, "atc": ATC}
UCUM = "http://unitsofmeasure.org"
# measurement kind -> (LOINC, unit, plausible range): a mistyped value is refused, not stored.
VITALS = {
    "blood-pressure": ("85354-9", "mm[Hg]", (Decimal(30), Decimal(300))),
    "pulse": ("8867-4", "/min", (Decimal(20), Decimal(250))),
    "weight": ("29463-7", "kg", (Decimal("0.3"), Decimal(400))),
    "temperature": ("8310-5", "Cel", (Decimal(30), Decimal(45))),
    "oxygen": ("2708-6", "%", (Decimal(50), Decimal(100))),
}
MAX_TEXT = 20_000


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _number(form: dict[str, Any], name: str, bounds: tuple[Decimal, Decimal], t: Any) -> Decimal:
    raw = str(form.get(name, "")).strip().replace(",", ".").replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(t("value_not_number")) from None
    if not value.is_finite() or not bounds[0] <= value <= bounds[1]:
        raise BadRequest(t("value_out_of_bounds", low=bounds[0], high=bounds[1]))
    return value


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    return {"value": float(value) if value % 1 else int(value), "unit": unit, "system": UCUM, "code": unit}


def _text(form: dict[str, Any], name: str, t: Any, required: bool = True) -> str:
    text = str(form.get(name, "")).strip()
    if required and not text:
        raise BadRequest(t("text_required"))
    if len(text) > MAX_TEXT:
        raise BadRequest(t("text_too_long", max=MAX_TEXT))
    return text


def _coded(form: dict[str, Any], system_key: str, t: Any) -> dict[str, Any]:
    """The chosen code (`code` = "<code>|<display>") checked against the code system."""
    code = str(form.get("code", "")).split("|", 1)[0].strip()
    if not code or system_key not in CODE_SYSTEMS:
        raise BadRequest(t("code_required"))
    found = [c for c in expand(CODE_SYSTEMS[system_key], filter=code, count=50)["expansion"].get("contains", [])
             if c["code"] == code]
    if not found:
        raise BadRequest(t("code_unknown", code=code))
    return {"coding": [{"system": CODE_SYSTEMS[system_key], "code": code, "display": found[0].get("display", "")}],
            "text": found[0].get("display", code)}


def _withheld(resource: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    if form.get("withheld") == "on":
        label = {"system": SECURITY_LABEL, "code": WITHHELD_FROM_PARENTS, "display": LABEL_WITHHELD_FROM_PARENTS[1]}
        resource.setdefault("meta", {}).setdefault("security", []).append(label)
    return resource


def build(kind: str, form: dict[str, Any], clinician: Any, patient: dict[str, Any], t: Any) -> dict[str, Any]:
    """The FHIR resource one form makes (BadRequest for what is wrong in it)."""
    from ehelse.portals.clinician.summary import identity

    subject = {"reference": f"Patient/{patient['id']}", "display": identity(patient)["name"]}
    me = {"reference": clinician.role_refs[0]} if clinician.role_refs else \
        {"reference": f"Practitioner/{clinician.practitioner_id}"}
    me["display"] = clinician.name
    org = {"reference": clinician.org_refs[0]} if clinician.org_refs else None
    if kind == "note":
        text = _text(form, "text", t)
        title = _text(form, "title", t, required=False)[:200] or t("note_default_title")
        doc = {"resourceType": "DocumentReference", "status": "current", "docStatus": "final",
               "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}], "text": t("note_type")},
               "subject": subject, "date": _now(), "author": [me], "description": title,
               "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "title": title,
                                           "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}}]}
        if org:
            doc["custodian"] = org
        return _withheld(doc, form)
    if kind == "measurement":
        which = form.get("vital", "")
        if which not in VITALS:
            raise BadRequest(t("vital_unknown"))
        loinc, unit, bounds = VITALS[which]
        observation: dict[str, Any] = {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": loinc}], "text": t("vital_" + which)},
            "subject": subject, "effectiveDateTime": _now(), "performer": [me]}
        if which == "blood-pressure":
            systolic, diastolic = _number(form, "systolic", bounds, t), _number(form, "diastolic", bounds, t)
            if diastolic >= systolic:
                raise BadRequest(t("bp_order"))
            observation["component"] = [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}], "text": t("systolic")},
                 "valueQuantity": _quantity(systolic, unit)},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}], "text": t("diastolic")},
                 "valueQuantity": _quantity(diastolic, unit)}]
        else:
            observation["valueQuantity"] = _quantity(_number(form, "value", bounds, t), unit)
        return observation
    if kind == "problem":
        return _withheld({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
            "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}],
            "code": _coded(form, form.get("system", ""), t), "subject": subject,
            "onsetDateTime": _now()[:10], "recordedDate": _now()[:10], "recorder": me}, form)
    if kind == "medication":
        return _withheld({
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": _coded(form, "atc", t), "subject": subject, "authoredOn": _now(),
            "requester": me, "dosageInstruction": [{"text": _text(form, "dosage", t)}]}, form)
    if kind == "referral":
        to = str(form.get("organization", ""))
        if not to.startswith("Organization/") or clinician.name_of({"reference": to}) == to:
            raise BadRequest(t("organization_required"))
        referral = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                    "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}],
                                  "text": t("referral")}],
                    "code": {"text": _text(form, "what", t)[:200]}, "subject": subject, "authoredOn": _now(),
                    "requester": me, "performer": [{"reference": to, "display": clinician.name_of({"reference": to})}]}
        reason = _text(form, "reason", t, required=False)
        if reason:
            referral["reasonCode"] = [{"text": reason[:1000]}]
        return referral
    if kind in ("reply", "questionnaire"):
        message: dict[str, Any] = {
            "resourceType": "Communication", "status": "completed", "category": [{"text": "E-kontakt"}],
            "subject": subject, "sent": _now(), "recipient": [subject], "sender": me,
            "payload": [{"contentString": _text(form, "text", t)}]}
        if kind == "reply":
            answered = str(form.get("message", ""))
            if not answered:
                raise BadRequest(t("message_required"))
            message["inResponseTo"] = [{"reference": f"Communication/{answered}"}]
        else:
            questionnaire = str(form.get("questionnaire", ""))
            if not questionnaire:
                raise BadRequest(t("questionnaire_required"))
            message["topic"] = {"text": t("questionnaire_topic")}
            message["payload"].append({"contentReference": {"reference": f"Questionnaire/{questionnaire}"}})
        return message
    raise NotFound(kind)


def _choices(clinician: Any, kind: str, patient_id: str) -> dict[str, Any]:
    """What a form offers: organisations to refer to, messages to answer, questionnaires."""
    if kind == "referral":
        orgs = clinician.search("Organization", _count=100, _sort="name")
        return {"organizations": [o for o in orgs if f"Organization/{o['id']}" not in clinician.org_refs]}
    if kind == "reply":
        found = clinician.search("Communication", on=patient_id, patient=f"Patient/{patient_id}", _sort="-sent", _count=20)
        return {"messages": [m for m in found if (m.get("sender") or {}).get("reference") == f"Patient/{patient_id}"]}
    if kind == "questionnaire":
        return {"questionnaires": clinician.search("Questionnaire", status="active", _count=50)}
    if kind == "medication":
        return {"active": clinician.search("MedicationRequest", on=patient_id, patient=f"Patient/{patient_id}",
                                           status="active", _count=100)}
    return {}


def document(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    patient_id, kind = request.path_params["id"], request.path_params["kind"]
    if kind not in KINDS:
        raise NotFound(kind)
    from ehelse.portals.clinician.summary import identity

    patient = clinician.read("Patient", patient_id, on=patient_id)
    who = identity(patient)
    error = None
    try:
        if request.method == "POST":
            with measure(request.scope, "fhir"):
                if kind == "medication" and form.get("stop"):
                    stopped = clinician.read("MedicationRequest", str(form["stop"]), on=patient_id)
                    if (stopped.get("subject") or {}).get("reference") != f"Patient/{patient_id}":
                        raise BadRequest(t("medication_not_patients"))
                    stopped["status"] = "stopped"
                    clinician.update(stopped, on=patient_id)
                else:
                    clinician.create(build(kind, form, clinician, patient, t), on=patient_id)
            flash(request, "success", t("saved_" + kind))
            return RedirectResponse(portal.url(f"/pasient/{patient_id}"), status_code=303)
    except Forbidden as refusal:
        if getattr(refusal, "access_reason", None):
            return access.refused_page(portal, request, clinician, patient_id, refusal)
        error, status = t("write_refused"), 403
    except BadRequest as bad:
        error, status = str(bad.issues[0].diagnostics if bad.issues else bad), 400
    try:
        with measure(request.scope, "fhir"):
            choices = _choices(clinician, kind, patient_id)
    except Forbidden as refusal:
        return access.refused_page(portal, request, clinician, patient_id, refusal)
    gp_refs = {g.get("reference") for g in who["gp"]}
    primary = bool(gp_refs & set(clinician.role_refs)) or clinician.role == "sykepleier"
    return portal.render(request, "clinician/document.html", clinician, title=t("document_" + kind), nav="patients",
                         status=status if error else 200, who=who, kind=kind, kinds=KINDS, error=error, values=form,
                         vitals=VITALS, default_system="icpc2" if primary else "icd10",
                         may_withhold=who["age"] is not None and 12 <= who["age"] <= 15, **choices)


def codes(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    """Type-ahead over ICPC-2, ICD-10 or ATC (ValueSet/$expand with `filter`,
    http://hl7.org/fhir/R4/valueset-operation-expand.html): radio buttons for the form."""
    t = portal.pages.translator(request)
    system = request.query_params.get("system", "")
    text = request.query_params.get("q", "").strip()[:60]
    if system not in CODE_SYSTEMS:
        raise BadRequest(t("code_required"))
    found = []
    if len(text) >= 2:
        with measure(request.scope, "terminology"):
            found = [c for c in expand(CODE_SYSTEMS[system], filter=text, count=12)["expansion"].get("contains", [])
                     if not c.get("abstract") and len(c["code"]) > 1]
    return portal.pages.render(request, "clinician/_codes.html", codes=found, q=text, title="", url=portal.url)
