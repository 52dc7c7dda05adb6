"""Messages between citizens and their GP office (Communication) and questionnaires
(Questionnaire, QuestionnaireResponse).

Communication: http://hl7.org/fhir/R4/communication.html — a patient's question through the
e-dialogue and the office's answer (`inResponseTo`). Questionnaire: questionnaire.html (each
item has a linkId, text and type); QuestionnaireResponse answers by linkId.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import instant, ref
from ehelse.nobasis.seed.organisations import Staff
from ehelse.nobasis.seed.vocabulary import EHELSE_CS

QUESTIONNAIRE_BASE = EHELSE_CS.replace("/CodeSystem/", "/Questionnaire/")

THREADS = (
    ("Kan jeg fornye resepten min?", "Resepten er fornyet og ligger klar på apoteket."),
    ("Jeg har hatt vondt i ryggen i to uker. Bør jeg komme til time?",
     "Det høres lurt ut. Bestill gjerne en time via timebestillingen, så ser vi på det."),
    ("Kan jeg få svar på blodprøvene fra forrige uke?", "Prøvesvarene er fine. Vi tar ny kontroll om et halvt år."),
    ("Trenger jeg vaksine før reisen til Thailand?", "Vi anbefaler hepatitt A-vaksine. Du kan komme innom "
                                                     "vaksinasjonskontoret på tirsdager."),
    ("Jeg må avbestille timen min på torsdag.", "Timen er avbestilt. Gi beskjed når du vil ha en ny."),
)

QUESTIONNAIRES = (
    {"id": "egenrapport-blodtrykk", "title": "Egenmåling av blodtrykk", "items": (
        ("systolisk", "Øvre trykk (systolisk, mmHg)", "integer"),
        ("diastolisk", "Nedre trykk (diastolisk, mmHg)", "integer"),
        ("svimmel", "Har du følt deg svimmel?", "boolean"),
    )},
    {"id": "for-legetimen", "title": "Før timen hos fastlegen", "items": (
        ("arsak", "Hva gjelder timen?", "string"),
        ("varighet", "Hvor lenge har du hatt plagene (dager)?", "integer"),
        ("nye-legemidler", "Har du begynt med nye legemidler siden sist?", "boolean"),
    )},
)


def questionnaires(reference_date: date) -> Iterator[dict[str, Any]]:
    for q in QUESTIONNAIRES:
        yield {
            "resourceType": "Questionnaire", "id": q["id"], "url": QUESTIONNAIRE_BASE + q["id"],
            "version": "1", "name": q["id"].replace("-", "_"), "title": q["title"], "status": "active",
            "subjectType": ["Patient"], "date": f"{reference_date.year - 1}-01-01", "language": "nb",
            "item": [{"linkId": link, "text": text, "type": type, "required": True} for link, text, type in q["items"]],
        }


def _answer(ctx: SeedContext, type: str, link: str) -> dict[str, Any]:
    if type == "boolean":
        return {"valueBoolean": ctx.rng.random() < 0.2}
    if type == "integer":
        value = {"systolisk": ctx.rng.randint(115, 165), "diastolisk": ctx.rng.randint(70, 100)}.get(link,
                                                                                                   ctx.rng.randint(1, 30))
        return {"valueInteger": value}
    return {"valueString": ctx.rng.choice(("Hoste og feber", "Vondt i kneet", "Kontroll av blodtrykk", "Utslett"))}


def questionnaire_response(ctx: SeedContext, patient: Any, day: date) -> dict[str, Any]:
    q = ctx.rng.choice(QUESTIONNAIRES)
    return {
        "resourceType": "QuestionnaireResponse", "id": ctx.new_id(),
        "questionnaire": QUESTIONNAIRE_BASE + q["id"] + "|1", "status": "completed",
        "subject": ref("Patient", patient.id, patient.display), "authored": instant(day, 20),
        "author": ref("Patient", patient.id, patient.display),
        "item": [{"linkId": link, "text": text, "answer": [_answer(ctx, type, link)]} for link, text, type in q["items"]],
    }


def message_thread(ctx: SeedContext, patient: Any, gp: Staff, day: date) -> list[dict[str, Any]]:
    """A question from the patient to the GP office and the GP's answer a day or two later."""
    question, answer = ctx.rng.choice(THREADS)
    asked_id, answered_id = ctx.new_id(), ctx.new_id()
    office = ref("Organization", gp.organization_id)
    asked = {
        "resourceType": "Communication", "id": asked_id, "status": "completed",
        "category": [{"text": "E-kontakt"}],
        "subject": ref("Patient", patient.id, patient.display),
        "sent": instant(day, 19), "received": instant(day, 19),
        "recipient": [office], "sender": ref("Patient", patient.id, patient.display),
        "payload": [{"contentString": question}],
    }
    reply_day = day + timedelta(days=ctx.rng.randint(0, 2))
    answered = {
        "resourceType": "Communication", "id": answered_id, "status": "completed",
        "category": [{"text": "E-kontakt"}],
        "subject": ref("Patient", patient.id, patient.display),
        "inResponseTo": [ref("Communication", asked_id)],
        "sent": instant(reply_day, 14),
        "recipient": [ref("Patient", patient.id, patient.display)], "sender": gp.role(),
        "payload": [{"contentString": answer}],
    }
    return [asked, answered]
