"""The words of /helsedata: bokmål first, English second."""

_NB = {
    "healthdata_portal_name": "ehelse – helsedata",
    "healthdata_title": "Kjør en ViewDefinition",
    "healthdata_intro": "Velg en visning fra biblioteket eller lim inn din egen (SQL on FHIR v2). Resultatet er pseudonymisert, og hver kjøring logges med hvem, hvilken visning, hvilke pasienters data og formål.",
    "library_view": "Visning fra biblioteket", "paste_view": "Eller lim inn en ViewDefinition (JSON)",
    "paste_hint": "Fyller du ut dette feltet, brukes det i stedet for biblioteksvisningen.",
    "engine": "Motor", "project": "Prosjekt", "project_hint": "Pseudonymene er like innen et prosjekt og kan ikke kobles mellom prosjekter.",
    "purpose": "Formål", "purpose_hint": "Lagres i revisjonssporet.",
    "identifiable": "Uten pseudonymisering (bare administrator)",
    "run": "Kjør", "download_as": "Last ned {format}",
    "result": "Resultat", "first_rows": "De første {count} radene", "engine_used": "Kjørt med {engine}; data fra {patients} pasienter lest.",
    "pseudonymised_note": "Pseudonymisert for prosjektet «{project}»: fødselsdato redusert til år, navn, identifikatorer og fritekst fjernet.",
    "no_rows": "Visningen ga ingen rader.", "error_heading": "Visningen kunne ikke kjøres",
    "login_title_hd": "Logg inn som analytiker", "login_text_hd": "Helsedata er for innloggede analytikere og administratorer (HelseID, rolle «analytiker» eller «administrator»).",
    "login_button_hd": "Logg inn med HelseID", "wrong_role": "Du er logget inn, men ikke i rollen analytiker eller administrator.",
    "csrf_title_hd": "Skjemaet er utløpt", "csrf_text_hd": "Last siden på nytt og prøv igjen.",
}
_EN = {
    "healthdata_portal_name": "ehelse – health data",
    "healthdata_title": "Run a ViewDefinition",
    "healthdata_intro": "Choose a view from the library or paste your own (SQL on FHIR v2). The result is pseudonymised, and every run is logged with who, which view, whose data and the purpose.",
    "library_view": "View from the library", "paste_view": "Or paste a ViewDefinition (JSON)",
    "paste_hint": "When this field is filled in, it is used instead of the library view.",
    "engine": "Engine", "project": "Project", "project_hint": "Pseudonyms are the same within a project and cannot be linked across projects.",
    "purpose": "Purpose", "purpose_hint": "Stored in the audit trail.",
    "identifiable": "Without pseudonymisation (administrator only)",
    "run": "Run", "download_as": "Download {format}",
    "result": "Result", "first_rows": "The first {count} rows", "engine_used": "Run with {engine}; data of {patients} patients read.",
    "pseudonymised_note": "Pseudonymised for the project “{project}”: birth dates reduced to the year, names, identifiers and free text removed.",
    "no_rows": "The view gave no rows.", "error_heading": "The view could not be run",
    "login_title_hd": "Log in as an analyst", "login_text_hd": "Health data is for logged-in analysts and administrators (HelseID, role “analytiker” or “administrator”).",
    "login_button_hd": "Log in with HelseID", "wrong_role": "You are logged in, but not in the role analyst or administrator.",
    "csrf_title_hd": "The form has expired", "csrf_text_hd": "Reload the page and try again.",
}
MESSAGES = {"nb": _NB, "en": _EN}
