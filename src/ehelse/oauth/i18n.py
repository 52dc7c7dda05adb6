"""The words of the login, picker and consent pages: Norwegian bokmål first, English on
`?lang=en` (remembered in a cookie). Keys are the same in both; a test checks that."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("nb", "en")

TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "site": "ehelse", "other_language": "English", "other_lang_code": "en",
        "idporten_title": "Logg inn med ID-porten (demo)",
        "idporten_intro": "Dette er en demo-innlogging som oppfører seg som ID-porten. Velg en syntetisk person.",
        "cast": "Personer i demoen", "search": "Søk blant pasienter", "search_button": "Søk",
        "no_results": "Ingen treff.", "login": "Logg inn", "fnr": "Fødselsnummer",
        "helseid_title": "Logg inn med HelseID (demo)",
        "helseid_intro": "Demo-innlogging for helsepersonell som oppfører seg som HelseID (sikkerhetsnivå 4).",
        "hpr": "HPR-nummer", "orgnr": "Organisasjonsnummer", "role": "Rolle", "purpose": "Formål",
        "reason": "Begrunnelse (påkrevd ved akutt behov og nødtilgang)",
        "purpose_TREAT": "Behandling", "purpose_ETREAT": "Akutt behandling", "purpose_COC": "Koordinering av behandling",
        "purpose_BTG": "Nødtilgang (break the glass)",
        "error_unknown_person": "Fant ingen person med det fødselsnummeret.",
        "error_unknown_hpr": "Fant ingen helsepersonell med det HPR-nummeret.",
        "error_bad_orgnr": "Organisasjonsnummeret må ha 9 sifre.",
        "error_bad_purpose": "Ukjent formål.", "error_reason_needed": "Akutt behov og nødtilgang krever en begrunnelse.",
        "picker_title": "Hvem gjelder det?", "picker_intro": "Velg hvem appen skal få tilgang til opplysningene om.",
        "picker_self": "meg selv", "picker_fnr": "Pasientens fødselsnummer", "continue": "Fortsett",
        "picker_not_found": "Fant ikke pasienten.",
        "consent_title": "Gi tilgang", "consent_intro": "ønsker tilgang til:", "consent_patient": "Gjelder",
        "approve": "Gi tilgang", "deny": "Avslå",
        "done_title": "Du er logget inn", "logout": "Logg ut", "logged_out": "Du er logget ut.",
        "error_title": "Noe gikk galt",
        "error_unknown_client": "Ukjent app (client_id).",
        "error_bad_redirect_uri": "Appens adresse for retur (redirect_uri) er ikke registrert.",
        "error_no_request": "Ingen pågående innlogging for en app.",
        "error_csrf": "Skjemaet var utløpt eller ikke sendt fra denne siden. Prøv igjen.",
        "error_not_found": "Siden finnes ikke.",
        "error_rate_limited": "For mange forsøk. Vent et minutt og prøv igjen.",
        "error_login_failed": "Innloggingen ble ikke godtatt.",
    },
    "en": {
        "site": "ehelse", "other_language": "Norsk", "other_lang_code": "nb",
        "idporten_title": "Log in with ID-porten (demo)",
        "idporten_intro": "A demo login that behaves like ID-porten. Choose a synthetic person.",
        "cast": "People in the demo", "search": "Search patients", "search_button": "Search",
        "no_results": "No matches.", "login": "Log in", "fnr": "National identity number",
        "helseid_title": "Log in with HelseID (demo)",
        "helseid_intro": "A demo login for health personnel that behaves like HelseID (security level 4).",
        "hpr": "HPR number", "orgnr": "Organisation number", "role": "Role", "purpose": "Purpose",
        "reason": "Reason (required for emergency treatment and break the glass)",
        "purpose_TREAT": "Treatment", "purpose_ETREAT": "Emergency treatment", "purpose_COC": "Coordination of care",
        "purpose_BTG": "Break the glass",
        "error_unknown_person": "No person with that national identity number.",
        "error_unknown_hpr": "No health personnel with that HPR number.",
        "error_bad_orgnr": "The organisation number has 9 digits.",
        "error_bad_purpose": "Unknown purpose.", "error_reason_needed": "Emergency access needs a reason.",
        "picker_title": "Who is it about?", "picker_intro": "Choose whose information the app may see.",
        "picker_self": "myself", "picker_fnr": "The patient's national identity number", "continue": "Continue",
        "picker_not_found": "Patient not found.",
        "consent_title": "Grant access", "consent_intro": "asks for access to:", "consent_patient": "About",
        "approve": "Allow", "deny": "Deny",
        "done_title": "You are logged in", "logout": "Log out", "logged_out": "You are logged out.",
        "error_title": "Something went wrong",
        "error_unknown_client": "Unknown app (client_id).",
        "error_bad_redirect_uri": "The app's redirect_uri is not registered.",
        "error_no_request": "No app login in progress.",
        "error_csrf": "The form had expired or was not sent from this page. Please try again.",
        "error_not_found": "No such page.",
        "error_rate_limited": "Too many attempts. Wait a minute and try again.",
        "error_login_failed": "The login was not accepted.",
    },
}


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang") or "nb"
    return chosen if chosen in LANGUAGES else "nb"


def texts(lang: str) -> dict[str, str]:
    return TEXTS[lang]
