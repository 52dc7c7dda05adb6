"""Discharge summaries (epikrise): a DocumentReference pointing at a Binary with the text.

DocumentReference per no-basis-DocumentReference (type from the no-basis document types:
A03-2 "Epikrise"); the Binary holds text/plain in Norwegian, base64 (binary.html), and names
the DocumentReference as its securityContext, so the document's access rules apply to it.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from ehelse.nobasis.seed.datatypes import concept, instant, period, ref
from ehelse.nobasis.seed.organisations import Staff, Unit
from ehelse.nobasis.seed.vocabulary import DOCUMENT_TYPE, profile

COURSE = {
    "J18": "Innlagt med feber, hoste og tung pust. Røntgen thorax viste infiltrat. Behandlet med intravenøs "
           "antibiotika med god effekt, og gått over til tabletter før utreise.",
    "I21": "Innlagt med brystsmerter. EKG og troponin forenlig med hjerteinfarkt. Gjennomgått koronar "
           "angiografi med blokking. Ukomplisert forløp etter inngrepet.",
    "I48": "Innlagt med hjertebank og nyoppdaget atrieflimmer. Frekvensregulert og startet med "
           "blodfortynnende behandling. Stabil ved utreise.",
    "I63": "Innlagt med plutselig talevansker og svakhet i høyre arm. CT viste hjerneinfarkt. Gode "
           "fremskritt under opphold, overført til videre rehabilitering i kommunen.",
    "S72": "Innlagt etter fall i hjemmet med brudd i lårhalsen. Operert dagen etter innleggelse. "
           "Mobilisert med gåstol av fysioterapeut.",
    "K35": "Innlagt med magesmerter. Klinisk og ultralyd forenlig med akutt blindtarmbetennelse. "
           "Laparoskopisk appendektomi uten komplikasjoner.",
    "N39": "Innlagt med feber og svie ved vannlating. Urinprøve viste infeksjon. Behandlet med antibiotika "
           "med rask bedring.",
}
DEFAULT_COURSE = "Innlagt for utredning og behandling. Ukomplisert forløp."


def epikrise_text(patient: Any, diagnosis: tuple[str, str, str], unit: Unit, doctor: Staff, admitted: date,
                  discharged: date) -> str:
    _, code, display = diagnosis
    return (
        f"EPIKRISE\n{unit.name}\n\n"
        f"Pasient: {patient.display}, født {patient.birth_date.strftime('%d.%m.%Y')}\n"
        f"Innlagt: {admitted.strftime('%d.%m.%Y')}   Utskrevet: {discharged.strftime('%d.%m.%Y')}\n\n"
        f"Diagnose: {display} ({code})\n\n"
        f"Forløp: {COURSE.get(code, DEFAULT_COURSE)}\n\n"
        "Videre oppfølging: Kontroll hos fastlege om 2-4 uker. Ta kontakt ved forverring.\n\n"
        f"Med vennlig hilsen\n{doctor.name}\n"
    )


def discharge_summary(doc_id: str, binary_id: str, patient: Any, diagnosis: tuple[str, str, str], unit: Unit,
                      doctor: Staff, encounter_id: str, admitted: date, discharged: date,
                      security: list[dict] | None = None) -> list[dict[str, Any]]:
    """The DocumentReference and its Binary, in that order."""
    text = epikrise_text(patient, diagnosis, unit, doctor, admitted, discharged).encode("utf-8")
    binary: dict[str, Any] = {
        "resourceType": "Binary", "id": binary_id, "contentType": "text/plain",
        "securityContext": ref("DocumentReference", doc_id),
        "data": base64.b64encode(text).decode("ascii"),
    }
    meta: dict[str, Any] = {"profile": [profile("DocumentReference")]}
    if security:
        meta["security"] = security
        binary["meta"] = {"security": security}
    document = {
        "resourceType": "DocumentReference", "id": doc_id, "meta": meta,
        "status": "current", "docStatus": "final",
        "type": concept(DOCUMENT_TYPE, "A03-2", "Epikrise"),
        "category": [concept(DOCUMENT_TYPE, "A00-1", "Epikriser og sammenfatninger")],
        "subject": ref("Patient", patient.id, patient.display),
        "date": instant(discharged, 15),
        "author": [doctor.role(), unit.ref()],
        "custodian": unit.ref(),
        "description": f"Epikrise: {diagnosis[2]}",
        "content": [{"attachment": {
            "contentType": "text/plain", "language": "nb", "url": f"Binary/{binary_id}", "size": len(text),
            "title": f"Epikrise {unit.name.split(',')[0]}", "creation": instant(discharged, 15),
        }}],
        "context": {"encounter": [ref("Encounter", encounter_id)],
                    "period": period(admitted, discharged, hour=10)},
    }
    return [document, binary]
