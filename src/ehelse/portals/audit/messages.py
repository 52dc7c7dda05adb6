"""The words of /revisjon: bokmål first, English second."""

_NB = {
    "audit_portal_name": "ehelse – revisjon", "audit_title": "Revisjon av tilgang",
    "audit_intro": "For personvernombudet: nødtilganger, tilgang uten behandlingsrelasjon, avviste forsøk, uvanlige mønstre og innlogginger i perioden.",
    "since": "Fra", "until": "Til", "show": "Vis", "grants": "Nødtilganger gitt", "emergency": "Oppslag med nødrett",
    "without_care": "Tilgang uten behandlingsrelasjon", "denied": "Avviste forsøk", "unusual": "Uvanlige mønstre",
    "logins": "Innlogginger", "when": "Tidspunkt", "who": "Hvem", "organisation": "Virksomhet", "patient": "Pasient",
    "purpose": "Formål", "reason": "Begrunnelse", "expires": "Gyldig til", "action": "Handling", "kind": "Type",
    "outcome": "Utfall", "ok": "Vellykket", "failed": "Mislyktes", "patients_outside": "Pasienter utenfor behandlingsrelasjon",
    "none": "Ingen i perioden.", "details": "Detaljer", "record": "Revisjonshendelse", "field": "Felt", "value": "Verdi",
    "forbidden": "Bare administratorer kan se revisjonsloggen.", "log_in": "Logg inn med HelseID som administrator",
    "not_found_title": "Fant ikke hendelsen", "back": "Tilbake til rapporten", "bad_period": "Ugyldig periode",
    "shown_first": "Viser de første {n}.",
}
_EN = {
    "audit_portal_name": "ehelse – audit", "audit_title": "Access review",
    "audit_intro": "For the privacy officer: emergency accesses, access without a care relationship, refused attempts, unusual patterns and logins in the period.",
    "since": "From", "until": "To", "show": "Show", "grants": "Emergency access granted", "emergency": "Emergency reads",
    "without_care": "Access without a care relationship", "denied": "Refused attempts", "unusual": "Unusual patterns",
    "logins": "Logins", "when": "When", "who": "Who", "organisation": "Organisation", "patient": "Patient",
    "purpose": "Purpose", "reason": "Reason", "expires": "Valid until", "action": "Action", "kind": "Kind",
    "outcome": "Outcome", "ok": "Succeeded", "failed": "Failed", "patients_outside": "Patients outside a care relationship",
    "none": "None in the period.", "details": "Details", "record": "Audit record", "field": "Field", "value": "Value",
    "forbidden": "Only administrators can see the audit trail.", "log_in": "Log in with HelseID as administrator",
    "not_found_title": "Record not found", "back": "Back to the report", "bad_period": "Invalid period",
    "shown_first": "Showing the first {n}.",
}
MESSAGES = {"nb": _NB, "en": _EN}
