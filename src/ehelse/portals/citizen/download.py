"""Download everything about oneself: the whole record as a FHIR Bundle (the API's
Patient/$everything, http://hl7.org/fhir/R4/patient-operation-everything.html, through the
same access rules) and a readable summary page (printable; the print stylesheet makes it a
clean PDF with the browser's "save as PDF")."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ehelse.errors import NotFound
from ehelse.portals.citizen import fhirtext
from ehelse.portals.ui import measure

MAX_PAGES = 50


def _check(citizen: Any) -> None:
    if "DocumentReference" in citizen.rights.hidden_types:
        raise NotFound("the full record is not available to parents of a 12-15 year old")


def download(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    _check(citizen)
    t = portal.pages.translator(request)
    return portal.render(request, "citizen/download.html", citizen, title=t("download_title"), nav="download")


def everything(citizen: Any) -> dict[str, Any]:
    """Every page of $everything joined into one searchset Bundle."""
    entries: list[dict[str, Any]] = []
    query = [("_count", "1000")]
    path = f"Patient/{citizen.acting.patient_id}/$everything"
    for _ in range(MAX_PAGES):
        page = citizen.call("GET", path, query) or {}
        entries += page.get("entry") or []
        following = next((link["url"] for link in page.get("link") or [] if link.get("relation") == "next"), None)
        if not following:
            break
        from urllib.parse import parse_qsl, urlsplit

        split = urlsplit(following)
        path = split.path.split("/fhir/", 1)[-1]
        query = parse_qsl(split.query, keep_blank_values=True)
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def bundle(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    _check(citizen)
    with measure(request.scope, "fhir"):
        found = everything(citizen)
    return Response(orjson.dumps(found, option=orjson.OPT_INDENT_2), media_type="application/fhir+json",
                    headers={"Content-Disposition": 'attachment; filename="helseopplysninger.json"',
                             "Cache-Control": "no-store"})


def summary(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    _check(citizen)
    t = portal.pages.translator(request)
    with measure(request.scope, "fhir"):
        found = everything(citizen)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in found["entry"]:
        resource = entry.get("resource") or {}
        by_type.setdefault(resource.get("resourceType", ""), []).append(resource)
    return portal.render(request, "citizen/summary.html", citizen, title=t("summary_title", name=citizen.acting.name),
                         nav="download", by_type=by_type, fhirtext=fhirtext)
