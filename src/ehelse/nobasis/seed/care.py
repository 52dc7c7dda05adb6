"""A person's care history: everything the health service has recorded about them.

For each person, by age and chance: childhood vaccines and seasonal influenza vaccines, GP
contacts with ICPC-2 diagnoses, chronic conditions with years of follow-up (chronic.py),
hospital stays after a referral with ICD-10 diagnoses and a discharge summary, allergies and
critical information (Flag), home care, appointments past and future, e-dialogue messages,
questionnaire answers, something withheld from parents in a young person's record, and the
privacy choices a few people make (block a named doctor, restrict, reserve).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ehelse.nobasis.seed import chronic, consents, dialogue, documents, encounters, immunization, observations
from ehelse.nobasis.seed.context import SeedContext
from ehelse.nobasis.seed.datatypes import concept, ref
from ehelse.nobasis.seed.organisations import Registry, Unit
from ehelse.nobasis.seed.scheduling import appointment, working_days
from ehelse.nobasis.seed.vocabulary import (
    ALLERGY_CLINICAL, ALLERGY_VERIFICATION, ATC, FLAG_CATEGORY, ICD10, ICD10_ADMISSIONS, ICPC2, ICPC2_CONTACTS,
    LABEL_RESTRICTED, LABEL_WITHHELD_FROM_PARENTS, SECURITY_LABEL, label,
)

HISTORY_YEARS = 8  # acute GP contacts and hospital stays further back are not generated

# GP contacts per year by age band (chronic follow-ups come on top).
CONTACT_RATE = ((5, 3.0), (17, 1.5), (44, 2.2), (66, 3.0), (200, 4.0))

# (category, code or None, text, criticality, reaction)
ALLERGIES = (
    ("medication", ("J01C", "Betalaktamantibakterielle midler, penicilliner"), "Penicillin", "high", "Anafylaksi"),
    ("medication", ("M01A", "Antiinflammatoriske og antirevmatiske midler, ekskl. steroider"), "NSAID", "low",
     "Elveblest"),
    ("food", None, "Peanøtter", "high", "Hevelse i lepper og svelg"),
    ("food", None, "Skalldyr", "high", "Oppkast og elveblest"),
    ("environment", None, "Bjørkepollen", "low", "Rennende nese og kløe i øynene"),
    ("environment", None, "Katt", "low", "Tett nese og astmaanfall"),
)


class CareHistory:
    def __init__(self, ctx: SeedContext, registry: Registry):
        self.ctx = ctx
        self.registry = registry

    def of(self, person: Any, *, privacy: bool = True, conditions: list[str] | None = None) -> list[dict[str, Any]]:
        """Every clinical resource for `person` (whose Patient exists already). `conditions`
        fixes the chronic conditions instead of drawing them; `privacy` False skips the
        random privacy choices (the demo cast makes its own)."""
        ctx, rng = self.ctx, self.ctx.rng
        out: list[dict[str, Any]] = []
        age = person.age(ctx.reference_date)
        gp = person.gp
        office = self.registry.unit_of(gp)
        out.extend(immunization.childhood(ctx, person, None))
        if conditions is None:
            conditions = chronic.draw_conditions(ctx, age)
        person.tags.update(conditions)
        if age >= 65 or conditions:
            out.extend(immunization.seasonal(ctx, person, gp.role()))
        self._gp_contacts(person, office, age, out)
        active_medicines: list[str] = []
        if conditions:
            active_medicines = chronic.chronic_care(ctx, person, conditions, gp, office, out)
        if rng.random() < (0.35 if age >= 67 else 0.08 if age >= 18 else 0.04):
            self._hospital_stay(person, age, out)
        if age >= 18 and rng.random() < 0.05:
            self._waiting_referral(person, out)
        if rng.random() < 0.08:
            self._allergy(person, out)
        if "home_care" in person.tags:
            self._home_care(person, out)
        if rng.random() < (0.6 if conditions else 0.15):
            self._future_appointment(person, out)
        if age >= 16 and rng.random() < 0.25:
            out.extend(dialogue.message_thread(ctx, person, gp, ctx.days_ago(rng.randint(5, 700))))
        if age >= 16 and rng.random() < 0.10:
            out.append(dialogue.questionnaire_response(ctx, person, ctx.days_ago(rng.randint(1, 400))))
        if "withheld" in person.tags and 12 <= age <= 15:
            active_medicines += self.withheld_from_parents(person, out)
        if age >= 18 and privacy:
            self._privacy(person, out)
        if active_medicines:
            out.append(chronic.medication_list(ctx.new_id(), person, gp, active_medicines, ctx.reference_date))
        return out

    # -- GP ------------------------------------------------------------------------------------
    def _gp_contacts(self, person: Any, office: Unit, age: int, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        rate = next(r for limit, r in CONTACT_RATE if age <= limit)
        years = min(HISTORY_YEARS, age + 1)
        choices = [c for c in ICPC2_CONTACTS if age >= 12 or c[0] not in ("P76", "P74", "L90")]
        for _ in range(rng.randint(0, round(2 * rate * years))):
            day = ctx.days_ago(rng.randint(4, 365 * years))
            if day < person.birth_date:
                continue
            code, display, _ = ctx.weighted(choices)
            self.gp_contact(person, office, day, (ICPC2, code, display), out)

    def gp_contact(self, person: Any, office: Unit, day: date, reason: tuple[str, str, str],
                   out: list[dict[str, Any]], security: list[dict] | None = None) -> str:
        """One GP consultation: Encounter, its diagnosis, sometimes a booked Appointment before
        it, a blood pressure and an antibiotic. Returns the Encounter id."""
        ctx, rng, gp = self.ctx, self.ctx.rng, person.gp
        encounter_id, condition_id = ctx.new_id(), ctx.new_id()
        hour = rng.randint(8, 14)
        appointment_id = None
        if rng.random() < 0.7:  # most GP visits are booked; the rest are same-day (øyeblikkelig hjelp)
            appointment_id = ctx.new_id()
            booked = appointment(appointment_id, person, gp, day, hour * 60, status="fulfilled",
                                 description=reason[2])
            if security:  # the label travels with everything that tells what the visit was about
                booked["meta"]["security"] = security
            out.append(booked)
        resource = encounters.encounter(encounter_id, person, gp, office, "AMB", day, hour=hour, reason=reason,
                                        condition_ids=[condition_id], appointment_id=appointment_id)
        if security:
            resource["meta"] = {"security": security}
        out.append(resource)
        resolved = None if reason[1] in ("P76", "P74", "L90") else day + timedelta(days=14)
        if resolved and resolved >= ctx.reference_date:
            resolved = None
        out.append(encounters.condition(condition_id, person, reason, day, recorder=gp, encounter_id=encounter_id,
                                        resolved=resolved, security=security))
        if person.age(day) >= 18 and rng.random() < 0.4:
            systolic = rng.gauss(128, 12)
            out.append(observations.blood_pressure(ctx.new_id(), person, systolic, systolic * 0.62 + rng.gauss(0, 4),
                                                   day, hour=hour, encounter_id=encounter_id, performer=gp.role()))
        if reason[1] in ("R74", "R78", "U71", "A03", "H71") and rng.random() < 0.5:  # infection? a CRP
            crp = rng.choice((rng.uniform(1, 5), rng.uniform(5, 120)))
            out.append(observations.observation(ctx.new_id(), person, observations.MEASURES["crp"], crp, day,
                                                hour=hour, encounter_id=encounter_id, performer=gp.role()))
        if reason[1] in ("R74", "H71", "U71", "R78") and rng.random() < 0.3:
            out.append(chronic.medication_request(ctx.new_id(), person, "penicillin_v", gp, day, active=False,
                                                  reason=reason[1:]))
        return encounter_id

    # -- hospital ----------------------------------------------------------------------------------
    def _department(self, person: Any, code: str) -> Unit:
        wanted = ("Barne- og ungdomsklinikken" if person.age(self.ctx.reference_date) < 18
                  else "Hjertemedisinsk" if code.startswith("I") else "Kirurgisk" if code in ("S72", "K35")
                  else "Medisinsk")
        units = [d for d in self.registry.departments if d.name.startswith(wanted)]
        return self.ctx.rng.choice(units or self.registry.departments)

    def _hospital_stay(self, person: Any, age: int, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        code, display, _ = ctx.weighted([a for a in ICD10_ADMISSIONS if age >= 18 or a[0] in ("J18", "K35")])
        unit = self._department(person, code)
        doctor = rng.choice(unit.staff)
        admitted = ctx.days_ago(rng.randint(20, 365 * min(HISTORY_YEARS, age + 1)))
        if admitted < person.birth_date:
            return
        discharged = admitted + timedelta(days=rng.randint(1, 8))
        referral_id = None
        if rng.random() < 0.5:  # planned after a referral; the rest come in as emergencies
            referral_id = ctx.new_id()
            reason = (ICPC2,) + rng.choice([("A98", "Helsefremmende tiltak/forebygging"), ("R05", "Hoste"),
                                            ("L03", "Korsryggsymptomer/plager")])
            out.append(encounters.referral(referral_id, person, person.gp, unit, admitted - timedelta(days=14),
                                           reason, status="completed"))
        encounter_id, condition_id = ctx.new_id(), ctx.new_id()
        diagnosis = (ICD10, code, display)
        out.append(encounters.encounter(encounter_id, person, doctor, unit, "IMP", admitted, end=discharged,
                                        hour=rng.randint(0, 20), reason=diagnosis, condition_ids=[condition_id],
                                        based_on=referral_id))
        out.append(encounters.condition(condition_id, person, diagnosis, admitted, recorder=doctor,
                                        encounter_id=encounter_id, resolved=discharged))
        out.extend(documents.discharge_summary(ctx.new_id(), ctx.new_id(), person, diagnosis, unit, doctor,
                                               encounter_id, admitted, discharged))

    def _waiting_referral(self, person: Any, out: list[dict[str, Any]]) -> None:
        """An active referral (the patient waits for the hospital), sometimes with a booked time."""
        ctx, rng = self.ctx, self.ctx.rng
        reason = (ICPC2,) + rng.choice([("K86", "Hypertensjon ukomplisert"), ("L90", "Kneartrose"),
                                        ("N01", "Hodepine")])
        unit = self._department(person, "L90" if reason[1] == "L90" else "I" if reason[1] == "K86" else "X")
        out.append(encounters.referral(ctx.new_id(), person, person.gp, unit, ctx.days_ago(rng.randint(7, 60)),
                                       reason, status="active"))
        if rng.random() < 0.5:
            day = working_days(ctx.reference_date, rng.randint(5, 40))[-1]
            out.append(appointment(ctx.new_id(), person, rng.choice(unit.staff), day, rng.randint(8, 14) * 60,
                                   status="booked", description="Poliklinisk vurdering", length=45))

    # -- allergies, home care, appointments --------------------------------------------------------
    def _allergy(self, person: Any, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        category, code, text, criticality, reaction = rng.choice(ALLERGIES)
        recorded = max(person.birth_date + timedelta(days=200), ctx.days_ago(rng.randint(30, 3000)))
        resource: dict[str, Any] = {
            "resourceType": "AllergyIntolerance", "id": ctx.new_id(),
            "clinicalStatus": concept(ALLERGY_CLINICAL, "active", "Active"),
            "verificationStatus": concept(ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
            "type": "allergy", "category": [category], "criticality": criticality,
            "code": concept(ATC, code[0], code[1], text) if code else {"text": text},
            "patient": ref("Patient", person.id, person.display),
            "recordedDate": recorded.isoformat(), "recorder": person.gp.role(),
            "reaction": [{"manifestation": [{"text": reaction}],
                          "severity": "severe" if criticality == "high" else "mild"}],
        }
        out.append(resource)
        if criticality == "high":  # kjernejournal: critical information
            out.append({
                "resourceType": "Flag", "id": ctx.new_id(), "status": "active",
                "category": [concept(FLAG_CATEGORY, "clinical", "Clinical")],
                "code": {"text": f"Kritisk informasjon: alvorlig allergi mot {text.lower()} ({reaction.lower()})"},
                "subject": ref("Patient", person.id, person.display),
                "period": {"start": recorded.isoformat()}, "author": person.gp.role(),
            })

    def _home_care(self, person: Any, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        local = [u for u in self.registry.home_care if u.place.municipality.number == person.place.municipality.number]
        unit = rng.choice(local or self.registry.home_care)
        nurse = rng.choice(unit.staff)
        episode_id = ctx.new_id()
        out.append(encounters.episode_of_care(episode_id, person, unit, nurse, ctx.days_ago(rng.randint(60, 900))))
        for week in range(1, 9):
            day = ctx.days_ago(7 * week + rng.randint(0, 3))
            encounter_id = ctx.new_id()
            out.append(encounters.encounter(encounter_id, person, nurse, unit, "HH", day, hour=rng.randint(8, 16),
                                            episode_id=episode_id,
                                            reason=(ICPC2, "A98", "Helsefremmende tiltak/forebygging")))
            if week % 2 == 0:
                out.append(observations.observation(ctx.new_id(), person, observations.MEASURES["weight"],
                                                    rng.uniform(52, 85), day, encounter_id=encounter_id,
                                                    performer=nurse.role()))

    def _future_appointment(self, person: Any, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        day = working_days(ctx.reference_date, rng.randint(1, 30))[-1]
        out.append(appointment(ctx.new_id(), person, person.gp, day, rng.randint(8 * 3, 14 * 3) * 20,
                               status="booked", description=rng.choice(("Kontroll", "Blodprøver og samtale",
                                                                        "Fornyelse av resepter"))))

    # -- privacy ------------------------------------------------------------------------------------
    def withheld_from_parents(self, person: Any, out: list[dict[str, Any]]) -> list[str]:
        """Something a 12–15-year-old asked health personnel to keep from the parents:
        a contraceptive prescription, or a GP contact about anxiety. Returns active request ids."""
        ctx, rng = self.ctx, self.ctx.rng
        security = [label(SECURITY_LABEL, LABEL_WITHHELD_FROM_PARENTS)]
        day = ctx.days_ago(rng.randint(10, 200))
        if person.gender == "female" and person.age(ctx.reference_date) >= 14:
            request_id = ctx.new_id()
            out.append(chronic.medication_request(request_id, person, "contraceptive", person.gp, day, active=True,
                                                  reason=None, security=security))
            return [request_id]
        self.gp_contact(person, self.registry.unit_of(person.gp), day, (ICPC2, "P74", "Angstlidelse"), out,
                        security=security)
        return []

    def _privacy(self, person: Any, out: list[dict[str, Any]]) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        roll = rng.random()
        signed = ctx.days_ago(rng.randint(10, 900))
        if roll < 0.007:
            others = [s for d in self.registry.departments for s in d.staff] + \
                     [s for s in self.registry.gps() if s is not person.gp]
            doctor = rng.choice(others)
            out.append(consents.block(ctx.new_id(), person, doctor.practitioner_id, doctor.name, signed))
        elif roll < 0.012:
            out.append(consents.restriction(ctx.new_id(), person, signed))
            self.gp_contact(person, self.registry.unit_of(person.gp), signed, (ICPC2, "P76", "Depresjon"), out,
                            security=[label(SECURITY_LABEL, LABEL_RESTRICTED)])
        elif roll < 0.015:
            out.append(consents.reservation(ctx.new_id(), person, signed))
