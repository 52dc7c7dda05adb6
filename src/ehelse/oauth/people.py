"""Finding the FHIR resources behind a login: the Patient of a national identity number
(FNR, the ID-porten `pid`), the Practitioner of an HPR number, and the people a citizen
may choose to act for in the patient picker.

The picker offers candidates only; whether a citizen may act for someone is decided on every
request by the access rules (DOMAIN.md), so a stale or wrong candidate gains nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from ehelse.access.tokens import FNR_SYSTEM, HPR_SYSTEM
from ehelse.errors import BadRequest
from ehelse.storage.protocol import SearchParam, SearchQuery


def _by_identifier(repo: Any, type: str, system: str, value: str) -> dict[str, Any] | None:
    page = repo.search(type, SearchQuery(params=[SearchParam("identifier", None, (f"{system}|{value}",))],
                                         count=1, total="none"))
    return orjson.loads(page.entries[0].content) if page.entries else None


def patient_by_fnr(repo: Any, fnr: str) -> dict[str, Any] | None:
    return _by_identifier(repo, "Patient", FNR_SYSTEM, fnr)


def practitioner_by_hpr(repo: Any, hpr: str) -> dict[str, Any] | None:
    return _by_identifier(repo, "Practitioner", HPR_SYSTEM, hpr)


def fnr_of(patient: dict[str, Any]) -> str | None:
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == FNR_SYSTEM:
            return identifier.get("value")
    return None


def display_name(resource: dict[str, Any]) -> str:
    for name in resource.get("name") or []:
        text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
        if text:
            return text
    return resource.get("id", "")


def represented_by(repo: Any, fnr: str) -> list[dict[str, Any]]:
    """Patients for whom a RelatedPerson carries this FNR (parents, fullmakt holders,
    nearest relatives: DOMAIN.md, "How the rules are written in FHIR")."""
    page = repo.search("RelatedPerson", SearchQuery(
        params=[SearchParam("identifier", None, (f"{FNR_SYSTEM}|{fnr}",))], count=50, total="none"))
    found: dict[str, dict[str, Any]] = {}
    for entry in page.entries:
        related = orjson.loads(entry.content)
        if related.get("active") is False:
            continue
        reference = (related.get("patient") or {}).get("reference", "")
        if reference.startswith("Patient/"):
            version = repo.read("Patient", reference.split("/", 1)[1])
            if version is not None and not version.deleted:
                found[version.id] = orjson.loads(version.content)
    return list(found.values())


def search_patients(repo: Any, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Patients whose name matches (the demo login's search box)."""
    if not text.strip():
        return []
    try:
        page = repo.search("Patient", SearchQuery(params=[SearchParam("name", None, (text.strip(),))],
                                                  count=limit, total="none"))
    except BadRequest:  # text no name can match (e.g. a NUL character): no one found
        return []
    return [orjson.loads(entry.content) for entry in page.entries]
