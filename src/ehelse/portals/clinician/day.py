"""The clinician's day: today's appointments, their patients (the GP list, the ward, the
home-care round: whoever the care relationship covers, access/care.py), and an inbox of what
is new: results, documents, messages, questionnaire answers and referrals, each linked to its
patient. Every list is an ordinary FHIR search through the access rules, so the inbox holds
only what the clinician may open (a patient outside their care shows up only when addressed to
them, and opening it then goes through the 403 and emergency access as anywhere else)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.portals.citizen import fhirtext
from ehelse.portals.ui import measure

INBOX_DAYS = 14  # "new" = the last two weeks
PATIENT_LIST = 60  # shown on the page; the search page finds the rest


def _patient_id(resource: dict[str, Any], *elements: str) -> str | None:
    for element in elements:
        value = resource.get(element)
        for item in value if isinstance(value, list) else [value]:
            ref = (item or {}).get("reference") or ""
            if ref.startswith("Patient/"):
                return ref.split("/", 1)[1]
    return None


def list_kind(clinician: Any, patients: list[dict[str, Any]]) -> str:
    """gp | homecare | ward: what the patient list is called."""
    refs = set(clinician.role_refs)
    if any((g.get("reference") or "") in refs for p in patients for g in p.get("generalPractitioner") or []):
        return "gp"
    return "homecare" if clinician.role == "sykepleier" else "ward"


def inbox(clinician: Any, today: date) -> list[dict[str, Any]]:
    """New items addressed to me or my organisation, or in my patients' records, newest first."""
    since = (today - timedelta(days=INBOX_DAYS)).isoformat()
    mine = clinician.role_refs + clinician.org_refs
    items: list[dict[str, Any]] = []

    def add(kind: str, resource: dict[str, Any], when: str, text: str, *elements: str) -> None:
        items.append({"kind": kind, "when": when, "text": text, "patient": _patient_id(resource, *elements),
                      "patient_name": ((resource.get("subject") or resource.get("patient") or {}).get("display") or ""),
                      "id": resource.get("id")})

    if mine:
        for r in clinician.search("ServiceRequest", performer=",".join(mine), status="active", _sort="-authored", _count=20):
            add("referral", r, r.get("authoredOn", ""), fhirtext.concept(r.get("code")) or fhirtext.concept(r.get("reasonCode")),
                "subject")
        for m in clinician.search("Communication", recipient=",".join(mine), sent=f"ge{since}", _sort="-sent", _count=20):
            text = next((p.get("contentString") for p in m.get("payload") or [] if p.get("contentString")), "")
            add("message", m, m.get("sent", ""), (m.get("topic") or {}).get("text") or text[:80], "subject")
    if clinician.role_refs:
        # My replies and questionnaires to patients, with whether the patient has read them:
        # the citizen portal sets Communication.received when the message is opened (R4
        # Communication.received, "when the communication arrived at the destination").
        for m in clinician.search("Communication", sender=",".join(clinician.role_refs), sent=f"ge{since}",
                                  _sort="-sent", _count=20):
            text = next((p.get("contentString") for p in m.get("payload") or [] if p.get("contentString")), "")
            add("sent", m, m.get("sent", ""), (m.get("topic") or {}).get("text") or text[:80], "subject")
            items[-1]["read"] = m.get("received") or ""
    for o in clinician.search("Observation", category="laboratory", date=f"ge{since}", _sort="-date", _count=15):
        add("result", o, o.get("effectiveDateTime", ""), fhirtext.concept(o.get("code")), "subject")
    for d in clinician.search("DocumentReference", date=f"ge{since}", _sort="-date", _count=10):
        add("document", d, d.get("date", ""), d.get("description") or fhirtext.concept(d.get("type")), "subject")
    for q in clinician.search("QuestionnaireResponse", authored=f"ge{since}", _sort="-authored", _count=10):
        add("answer", q, q.get("authored", ""), q.get("questionnaire", "").rsplit("/", 1)[-1], "subject")
    items.sort(key=lambda i: i["when"], reverse=True)
    return items


def day(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    today = clinician.policy.today()
    with measure(request.scope, "fhir"):
        appointments = []
        if clinician.role_refs:
            appointments = clinician.search("Appointment", actor=",".join(clinician.role_refs),
                                            date=[f"ge{today.isoformat()}", f"lt{(today + timedelta(days=1)).isoformat()}"],
                                            _sort="date", _count=50)
        cared = sorted(clinician.care_patients())
        patients = clinician.search("Patient", _id=",".join(cared[:PATIENT_LIST]), _sort="family",
                                    _count=PATIENT_LIST) if cared else []
        items = inbox(clinician, today)
    for a in appointments:
        a["_patient"] = _patient_id({"p": [x.get("actor") for x in a.get("participant") or []]}, "p")
        a["_patient_name"] = next((x["actor"].get("display", "") for x in a.get("participant") or []
                                   if (x.get("actor") or {}).get("reference", "").startswith("Patient/")), "")
    from ehelse.portals.clinician.summary import identity

    return portal.render(request, "clinician/day.html", clinician, title=t("day_title", name=clinician.name),
                         nav="day", appointments=appointments, patients=[identity(p) for p in patients],
                         total=len(cared), kind=list_kind(clinician, patients), items=items, today=today)
