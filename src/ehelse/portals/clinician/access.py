"""Declaring a purpose of use for one patient, and explaining a refusal.

DOMAIN.md, "Health personnel: access to a patient": without a care relationship the API says
403 with an OperationOutcome whose issue details carry why (access/repository.py: the
access-outcome code `purpose-required`, `blocked`, `reserved`, `emergency-expired`). This
page shows that reason in words and, where it can help, the emergency access form: purpose
ETREAT (emergency treatment) or BTG (break the glass), a reason (required), time-limited to
EMERGENCY_MINUTES, logged and shown to the patient. A block by the patient holds even then,
and the page says so instead of offering the form. With a care relationship, the same form
with TREAT or COC opens the parts the patient restricted (sperret), which the audit records.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.access.care import EMERGENCY_MINUTES
from ehelse.access.policy import EMERGENCY_PURPOSES
from ehelse.errors import BadRequest, Forbidden
from ehelse.portals.ui import flash

NO_EMERGENCY = ("blocked", "reserved")  # the patient's choice holds in an emergency too


def _patient_name(clinician: Any, patient_id: str) -> str:
    from ehelse.portals.clinician.summary import identity

    return identity(clinician.read("Patient", patient_id))["name"]  # demographics: open to personnel


def refused_page(portal: Any, request: Request, clinician: Any, patient_id: str, refusal: Forbidden) -> Response:
    t = portal.pages.translator(request)
    reason = getattr(refusal, "access_reason", None) or "purpose-required"
    if reason == "emergency-expired":
        clinician.end_declaration(patient_id)
        portal.sessions.save(clinician.session)
    return portal.render(request, "clinician/access.html", clinician, title=t("access_title"), nav="patients",
                         status=403, patient_id=patient_id, name=_patient_name(clinician, patient_id), reason=reason,
                         offer=reason not in NO_EMERGENCY, purposes=("ETREAT", "BTG"), minutes=EMERGENCY_MINUTES,
                         values={})


def declare(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    """GET: the form (emergency, or a purpose for restricted parts). POST: declare it."""
    t = portal.pages.translator(request)
    patient_id = request.path_params["id"]
    name = _patient_name(clinician, patient_id)
    care = patient_id in clinician.care_patients()
    purposes = ("TREAT", "COC") if care else ("ETREAT", "BTG")
    if request.method == "POST":
        purpose = form.get("purpose", "")
        reason = str(form.get("reason", "")).strip()
        error = None
        if purpose not in purposes:
            error = t("purpose_unknown")
        elif purpose in EMERGENCY_PURPOSES and not reason:
            error = t("reason_required")
        if error:
            return portal.render(request, "clinician/access.html", clinician, title=t("access_title"), nav="patients",
                                 status=400, patient_id=patient_id, name=name, reason="form", offer=True,
                                 purposes=purposes, minutes=EMERGENCY_MINUTES, values=form, error=error)
        clinician.declare(patient_id, purpose, reason)
        portal.sessions.save(clinician.session)
        try:  # open the record now: the grant starts (and the patient is told) on first use
            clinician.search("Flag", on=patient_id, patient=f"Patient/{patient_id}", _count=1)
        except Forbidden as refusal:
            clinician.end_declaration(patient_id)
            portal.sessions.save(clinician.session)
            return refused_page(portal, request, clinician, patient_id, refusal)
        flash(request, "warning" if purpose in EMERGENCY_PURPOSES else "info",
              t("emergency_started", minutes=EMERGENCY_MINUTES) if purpose in EMERGENCY_PURPOSES
              else t("purpose_declared", purpose=t("purpose_" + purpose)))
        return RedirectResponse(portal.url(f"/pasient/{patient_id}"), status_code=303)
    return portal.render(request, "clinician/access.html", clinician, title=t("access_title"), nav="patients",
                         patient_id=patient_id, name=name, reason="care" if care else "purpose-required", offer=True,
                         purposes=purposes, minutes=EMERGENCY_MINUTES, values={})


def end(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    """End a declared purpose early (the grant record keeps its own end; the portal stops
    using it, and a new declaration makes a new grant)."""
    patient_id = request.path_params["id"]
    if clinician.declaration(patient_id) is None:
        raise BadRequest("nothing declared for this patient")
    clinician.end_declaration(patient_id)
    portal.sessions.save(clinician.session)
    flash(request, "info", portal.pages.translator(request)("access_ended"))
    return RedirectResponse(portal.url("/"), status_code=303)
