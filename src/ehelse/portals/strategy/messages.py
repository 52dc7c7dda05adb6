"""The words of /strategi: bokmål first, English second."""

_NB = {
    "strategy_portal_name": "ehelse – strategioppfølging",
    "strategy_title": "Nasjonal e-helsestrategi: oppfølging",
    "strategy_intro": "Mål, delmål, tiltak og indikatorer. Indikatorene beregnes fortløpende fra plattformens egne data; små tall er skjult.",
    "goal": "Mål", "subgoal": "Delmål", "activities": "Tiltak", "indicators": "Indikatorer",
    "owner": "Ansvarlig", "status": "Status", "period": "Periode", "value_now": "Nå", "baseline": "Utgangspunkt",
    "target": "Mål", "definition": "Definisjon", "formula": "Formel", "view": "ViewDefinition",
    "not_computed": "Beregnes ikke fra plattformens data", "no_data": "Ingen data ennå",
    "series_measured": "Målt", "series_target": "Målsetting", "by_municipality": "Etter kommune",
    "suppressed_note": "Celler under {threshold} er skjult, og nok andre celler til at de ikke kan regnes ut fra summene.",
    "total": "Sum", "count_of": "{numerator} av {denominator}", "illustrative": "Illustrativt utkast",
    "chart_table": "Tallene i grafen", "year": "Tidspunkt", "value": "Verdi", "not_found_title": "Fant ikke siden",
    "back": "Tilbake til oversikten",
}
_EN = {
    "strategy_portal_name": "ehelse – strategy follow-up",
    "strategy_title": "National e-health strategy: follow-up",
    "strategy_intro": "Goals, sub-goals, activities and indicators. Indicators are computed live from the platform's own data; small numbers are hidden.",
    "goal": "Goal", "subgoal": "Sub-goal", "activities": "Activities", "indicators": "Indicators",
    "owner": "Owner", "status": "Status", "period": "Period", "value_now": "Now", "baseline": "Baseline",
    "target": "Target", "definition": "Definition", "formula": "Formula", "view": "ViewDefinition",
    "not_computed": "Not computed from the platform's data", "no_data": "No data yet",
    "series_measured": "Measured", "series_target": "Target", "by_municipality": "By municipality",
    "suppressed_note": "Cells below {threshold} are hidden, and enough other cells that they cannot be worked out from the totals.",
    "total": "Total", "count_of": "{numerator} of {denominator}", "illustrative": "Illustrative draft",
    "chart_table": "The numbers in the chart", "year": "When", "value": "Value", "not_found_title": "Page not found",
    "back": "Back to the overview",
}
MESSAGES = {"nb": _NB, "en": _EN}

_NB.update({
    "edit": "Rediger", "edit_title": "Rediger {code}", "save": "Lagre", "saved": "Endringen er lagret.",
    "log_in_admin": "Logg inn for å redigere", "field_title": "Tittel", "field_owner": "Ansvarlig",
    "field_status": "Status", "field_start": "Start", "field_end": "Slutt", "field_baseline": "Utgangspunkt",
    "field_baseline_year": "År for utgangspunkt", "field_target": "Mål", "field_target_year": "Målår",
    "field_unit": "Enhet", "forbidden_edit": "Bare administratorer kan redigere planen.",
    "csrf_text": "Skjemaet er utløpt. Last siden på nytt og prøv igjen.",
})
_EN.update({
    "edit": "Edit", "edit_title": "Edit {code}", "save": "Save", "saved": "The change is saved.",
    "log_in_admin": "Log in to edit", "field_title": "Title", "field_owner": "Owner",
    "field_status": "Status", "field_start": "Start", "field_end": "End", "field_baseline": "Baseline",
    "field_baseline_year": "Baseline year", "field_target": "Target", "field_target_year": "Target year",
    "field_unit": "Unit", "forbidden_edit": "Only administrators can edit the plan.",
    "csrf_text": "The form has expired. Reload the page and try again.",
})
