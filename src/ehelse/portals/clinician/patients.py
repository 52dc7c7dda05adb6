"""Finding a patient: by FNR/D-number (from its first six digits, the birth date), birth date (`17.03.1984`, `1984-03-17`) or
name, with type-ahead (htmx asks /pasienter/sok as the clinician types). Personnel may search
every Patient's demographics (DOMAIN.md access matrix), audited like the API; each hit says
whether there is a care relationship, so the clinician knows before opening the record.
Searches go through the same FHIR search as the API (Patient?identifier=, ?birthdate=, ?name=,
http://hl7.org/fhir/R4/patient.html#search)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.nobasis.identifiers.personal import format_person_number
from ehelse.nobasis.seed.vocabulary import DNR, FNR
from ehelse.portals.ui import measure

LIMIT = 10
_DATE_NB = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_birth_date(text: str) -> str | None:
    """`17.03.1984` or `1984-03-17` as a FHIR date; None if it is no real date."""
    found = _DATE_NB.match(text) or _DATE_ISO.match(text)
    if not found:
        return None
    parts = [int(p) for p in found.groups()]
    day, month, year = parts if _DATE_NB.match(text) else (parts[2], parts[1], parts[0])
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def query_for(text: str) -> dict[str, Any] | None:
    """The Patient search a typed text means, or None when it is too short to search."""
    text = " ".join("".join(c for c in text if c.isprintable()).split())
    compact = text.replace(" ", "")
    if compact.isdigit():
        if len(compact) == 11:
            return {"identifier": [f"{FNR}|{compact}"]} if compact[0] < "4" else {"identifier": [f"{DNR}|{compact}"]}
        if len(compact) >= 6:  # the birth date part of an FNR/D-number: type-ahead by birth date
            born = _fnr_birth_dates(compact)
            return {"birthdate": [",".join(born)], "_prefix": compact} if born else None
        return None
    born = parse_birth_date(text)
    if born:
        return {"birthdate": born}
    if len(text) < 2:
        return None
    return {"name": text.split(" ")}  # every word must match (Norwegian folding in search/)


def _fnr_birth_dates(digits: str) -> list[str]:
    """The birth dates the first six digits of an FNR (DDMMYY), D-number (day + 40),
    H-number (month + 40) or synthetic number (month + 80) can
    mean: the century is in the individual number, not yet typed, so 19YY and 20YY (not in the
    future). The date index answers these; the typed prefix then picks the exact people."""
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if day > 40:
        day -= 40  # D-number
    if month > 80:
        month -= 80  # synthetic test numbers (Skatteetaten's Tenor, and this platform's seed)
    elif month > 40:
        month -= 40  # H-numbers (hjelpenummer)
    out = []
    for century in (1900, 2000):
        try:
            born = date(century + year, month, day)
        except ValueError:
            return []
        if born <= date.today():
            out.append(born.isoformat())
    return out


def search(clinician: Any, text: str) -> list[dict[str, Any]]:
    """Rows for the result list: name, formatted number, birth date, care relationship."""
    params = query_for(text)
    if params is None:
        return []
    prefix = params.pop("_prefix", None)
    # No _sort: sorted here (a sorted search costs an extra index lookup per row), no total.
    found = clinician.search("Patient", _count=LIMIT if prefix is None else 200, _total="none", **params)
    if prefix is not None:  # the birth dates matched; the typed digits choose among them
        found = [p for p in found if any((i.get("value") or "").startswith(prefix) for i in p.get("identifier") or []
                                         if i.get("system") in (FNR, DNR))][:LIMIT]
    found.sort(key=lambda p: (_name(p).split(" ")[-1:], _name(p)))
    cared = clinician.care_patients()
    rows = []
    for patient in found:
        number = next((i.get("value") for i in patient.get("identifier") or []
                       if i.get("system") in (FNR, DNR) and i.get("value")), "")
        rows.append({"id": patient["id"], "name": _name(patient), "number": format_person_number(number) if number else "",
                     "birth_date": patient.get("birthDate"), "gender": patient.get("gender"),
                     "care": patient["id"] in cared, "deceased": bool(patient.get("deceasedDateTime")
                                                                       or patient.get("deceasedBoolean"))})
    return rows


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if name.get("use") in (None, "official", "usual"):
            return name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    return patient.get("id", "")


def find(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    text = request.query_params.get("q", "")[:100]
    with measure(request.scope, "fhir"):
        rows = search(clinician, text) if text else []
    return portal.render(request, "clinician/patients.html", clinician, title=t("patients_title"), nav="patients",
                         q=text, rows=rows, searched=bool(text), too_short=bool(text) and query_for(text) is None)


def typeahead(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    """The result list alone (an htmx fragment for the search box); a full page without htmx."""
    if not request.headers.get("hx-request"):
        return find(portal, request, clinician, form)
    t = portal.pages.translator(request)
    text = request.query_params.get("q", "")[:100]
    with measure(request.scope, "fhir"):
        rows = search(clinician, text)
    return portal.pages.render(request, "clinician/_patient_rows.html", rows=rows, q=text, searched=bool(text),
                               too_short=bool(text) and query_for(text) is None, url=portal.url,
                               title=t("patients_title"))
