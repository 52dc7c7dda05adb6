"""The readable summary as a PDF (`/last-ned/sammendrag.pdf`), made on the server with fpdf2
(pure Python): the same sections as the summary page (download.py), from the same
Patient/$everything through the same access rules. A tagged, accessible PDF is beyond what
fpdf2 makes, so the HTML summary stays the accessible version and the PDF is the one to keep
or print; the accessibility statement says so."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.portals.citizen import fhirtext
from ehelse.portals.citizen.download import _check, everything
from ehelse.portals.ui import measure
from ehelse.portals.ui.formatting import format_date

# (type, heading key, the element that names it, the elements that date it): as summary.html
SECTIONS = [("Condition", "conditions_active", "code", ("onsetDateTime", "recordedDate")),
            ("MedicationRequest", "medicines_title", "medicationCodeableConcept", ("authoredOn",)),
            ("AllergyIntolerance", "critical_and_allergies", "code", ("recordedDate",)),
            ("Immunization", "vaccinations", "vaccineCode", ("occurrenceDateTime",)),
            ("Observation", "results_title", "code", ("effectiveDateTime",)),
            ("Encounter", "visits", "reasonCode", ("period",)),
            ("DocumentReference", "documents_title", "type", ("date",))]
MAX_ROWS = 300  # per section, as on the page


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1 (æ, ø, å are in it); other characters become close ones."""
    text = text.replace("–", "-").replace("—", "-").replace("≥", ">=").replace("≤", "<=").replace("…", "...")
    return text.encode("latin-1", "replace").decode("latin-1")


def summary_pdf(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    from fpdf import FPDF

    _check(citizen)
    t = portal.pages.translator(request)
    lang = t.lang
    with measure(request.scope, "fhir"):
        found = everything(citizen)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in found["entry"]:
        resource = entry.get("resource") or {}
        by_type.setdefault(resource.get("resourceType", ""), []).append(resource)
    with measure(request.scope, "pdf"):
        pdf = FPDF(format="A4")
        pdf.set_title(_latin1(t("summary_title", name=citizen.acting.name)))
        pdf.set_lang(lang)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 8, _latin1(t("summary_title", name=citizen.acting.name)), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, _latin1(format_date(date.today().isoformat(), lang)), new_x="LMARGIN", new_y="NEXT")
        for type, heading, what, when in SECTIONS:
            rows = fhirtext.newest_first(by_type.get(type) or [], *when)[:MAX_ROWS]
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 7, _latin1(f"{t(heading)} ({len(by_type.get(type) or [])})"), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            if not rows:
                pdf.multi_cell(0, 5, _latin1(t("none_registered")), new_x="LMARGIN", new_y="NEXT")
            for r in rows:
                day = fhirtext.when(r, *when)
                line = f"{format_date(day, lang) if day else '-'}   {fhirtext.concept(r.get(what)) or '-'}"
                pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
        data = bytes(pdf.output())
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="helseopplysninger.pdf"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
