"""Launching a SMART app in the patient's context (SMART App Launch, "EHR launch":
http://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch). The workspace
makes a launch context (oauth/authorize.create_launch: the patient and the clinician's HPR
number, who alone may use it) and opens the configured app (setting `smart_app_url`) with
`?iss=<FHIR base>&launch=<id>`; the app then authorises with scope `launch` as usual. The
launch is allowed only where the clinician may open the record (the same access check)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.errors import Forbidden, NotFound
from ehelse.oauth.authorize import create_launch
from ehelse.portals.clinician import access


def launch(portal: Any, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    patient_id = request.path_params["id"]
    app_url = portal.smart_app_url
    if not app_url:
        raise NotFound("no SMART app is configured (setting smart_app_url)")
    try:  # the app may read the record only if the clinician may
        clinician.search("Flag", on=patient_id, patient=f"Patient/{patient_id}", _count=1)
    except Forbidden as refusal:
        return access.refused_page(portal, request, clinician, patient_id, refusal)
    launch_id = create_launch(portal.state.oauth, patient_id, user=clinician.hpr)
    separator = "&" if "?" in app_url else "?"
    target = app_url + separator + urlencode({"iss": portal.base_url(request), "launch": launch_id})
    return RedirectResponse(target, status_code=303)
