"""GET /oauth2/authorize and what follows it: login, patient picker, consent, code.

    1 /oauth2/authorize   checks the request (RFC 6749 section 4.1.1, SMART app-launch.html
                          "Obtain authorization code"): client, redirect_uri, PKCE S256
                          (required of public clients), aud = our FHIR base, scopes within
                          what the client may ask, a `launch` from the EHR (create_launch).
                          The request is kept in the session; not logged in: to /login.
    2 /oauth2/picker      launch/patient without an EHR launch: whom the app is for. A
                          citizen picks themself or someone they act for (the SMART patient
                          context); personnel give the patient's FNR.
    3 /oauth2/consent     the user approves (or denies) the client's scopes; a code is made.
Errors before the redirect URI is known good are shown as a page, never redirected
(section 4.1.2.1); later ones go back to the client.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.oauth import clients, grants, people, scopes
from ehelse.oauth.errors import OAuthError
from ehelse.oauth.sessions import csrf_ok, current_session
from ehelse.oauth.store import digest
from ehelse.oauth.token_endpoint import CODE_LIFETIME, CODE_MEMORY

LAUNCH_LIFETIME = 300  # seconds an EHR launch id may be used


def create_launch(server: Any, patient_id: str, encounter_id: str | None = None, user: str | None = None) -> str:
    """An EHR launch context (SMART app-launch.html, "EHR launch"): the clinician workspace
    calls this, then opens the app with `?iss=<fhir base>&launch=<id>`. `user`: the HPR number
    of the clinician, who alone may use it."""
    launch_id = secrets.token_urlsafe(16)
    server.store.put("launch", launch_id, {"patient_id": patient_id, "encounter_id": encounter_id, "user": user},
                     expires=time.time() + LAUNCH_LIFETIME)
    return launch_id


def authorize(server: Any, request: Request) -> Response:
    params = dict(request.query_params)
    client = clients.get(server.store, params.get("client_id", ""))
    if client is None:
        return server.error_page(request, "unknown_client", status=400)
    redirect_uri = params.get("redirect_uri") or (client.redirect_uris[0] if len(client.redirect_uris) == 1 else "")
    if redirect_uri not in client.redirect_uris:
        return server.error_page(request, "bad_redirect_uri", status=400)
    state = params.get("state")
    try:
        pending = _check(server, request, client, params, redirect_uri)
    except OAuthError as error:
        return error.redirect(redirect_uri, state)
    session = current_session(request)
    # user/ scopes are for personnel (HelseID), the rest for citizens (ID-porten); a session
    # of the other kind logs in again rather than lend its identity to the wrong kind of app.
    login = "helseid" if "user" in scopes.contexts(pending["scope"]) else "idporten"
    wanted = "personnel" if login == "helseid" else "citizen"
    if session is None or session.kind != wanted:
        session = session if session is not None and session.kind == "anonymous" else server.sessions.start()
        session.data["authorize"] = pending
        server.sessions.save(session)
        return server.with_session(RedirectResponse(f"{server.login_url(login)}", status_code=303), request, session)
    session.data["authorize"] = pending
    server.sessions.save(session)
    return RedirectResponse(_next_step(session), status_code=303)


def _check(server: Any, request: Request, client: clients.Client, params: dict[str, str],
           redirect_uri: str) -> dict[str, Any]:
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge and method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if client.public and not challenge:
        raise OAuthError("invalid_request", "public clients must use PKCE (code_challenge, S256)")
    fhir_base = server.fhir_base(request)
    if params.get("aud") and params["aud"].rstrip("/") != fhir_base:
        raise OAuthError("invalid_request", f"aud must be this server's FHIR base URL {fhir_base}")
    requested = params.get("scope", "")
    try:
        wider = scopes.covered(requested, client.scope)
        granted = scopes.normalise(requested)
    except scopes.ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    if wider:
        raise OAuthError("invalid_scope", f"not allowed for this client: {' '.join(wider)}")
    if "system" in scopes.contexts(granted):
        raise OAuthError("invalid_scope", "system/ scopes are for backend services (client_credentials)")
    launch = None
    if params.get("launch"):
        found = server.store.get("launch", params["launch"])
        if found is None:
            raise OAuthError("invalid_request", "unknown or expired launch")
        launch = found[0]
    return {"client_id": client.client_id, "client_name": client.client_name or client.client_id,
            "redirect_uri": redirect_uri, "state": params.get("state"), "scope": granted,
            "code_challenge": challenge, "nonce": params.get("nonce"), "aud": fhir_base, "launch": launch}


def _next_step(session: Any) -> str:
    pending = session.data["authorize"]
    needs_patient = "launch/patient" in scopes.split(pending["scope"]) and not (pending.get("launch") or {})
    if needs_patient and not pending.get("patient_id"):
        return "/oauth2/picker"
    return "/oauth2/consent"


def after_login(server: Any, request: Request, session: Any) -> Response:
    """Where a login page sends the browser: on with the authorisation, or to a plain page."""
    if session.data.get("authorize"):
        return RedirectResponse(_next_step(session), status_code=303)
    after = session.data.pop("next", None)  # a portal's page (a local path only: no open redirect)
    if isinstance(after, str) and after.startswith("/") and not after.startswith("//"):
        server.sessions.save(session)
        return RedirectResponse(after, status_code=303)
    return RedirectResponse("/login/done", status_code=303)


def picker(server: Any, request: Request) -> Response:
    session = current_session(request)
    pending = session.data.get("authorize") if session else None
    if not pending or session.kind == "anonymous":
        return server.error_page(request, "no_request", status=400)
    if request.method == "POST":
        form = server.form(request)
        if not csrf_ok(request, form):
            return server.error_page(request, "csrf", status=403)
        patient = _chosen(server, session, form.get("patient", ""))
        if patient is None:
            return server.page(request, "picker.html", choices=_choices(server, session), not_found=True, status=400)
        pending.update(patient_id=patient["id"], patient_fnr=people.fnr_of(patient),
                       patient_name=people.display_name(patient))
        server.sessions.save(session)
        return RedirectResponse("/oauth2/consent", status_code=303)
    return server.page(request, "picker.html", choices=_choices(server, session))


def _choices(server: Any, session: Any) -> list[dict[str, Any]]:
    if session.kind != "citizen":
        return []  # personnel type the FNR
    own = people.patient_by_fnr(server.repo, session.data["pid"])
    found = ([own] if own else []) + people.represented_by(server.repo, session.data["pid"])
    return [{"id": p["id"], "name": people.display_name(p), "self": p is own} for p in found]


def _chosen(server: Any, session: Any, value: str) -> dict[str, Any] | None:
    if session.kind == "citizen":
        return next((server.read_patient(c["id"]) for c in _choices(server, session) if c["id"] == value), None)
    return people.patient_by_fnr(server.repo, value.strip()) if value.strip().isdigit() else None


def consent(server: Any, request: Request) -> Response:
    session = current_session(request)
    pending = session.data.get("authorize") if session else None
    if not pending or session.kind == "anonymous":
        return server.error_page(request, "no_request", status=400)
    if request.method == "GET":
        return server.page(request, "consent.html", request_=pending, scopes=scopes.split(pending["scope"]))
    form = server.form(request)
    if not csrf_ok(request, form):
        return server.error_page(request, "csrf", status=403)
    session.data.pop("authorize", None)
    server.sessions.save(session)
    if form.get("decision") != "approve":
        return OAuthError("access_denied", "the user said no").redirect(pending["redirect_uri"], pending["state"])
    try:
        grant = _grant(server, session, pending)
    except OAuthError as error:
        return error.redirect(pending["redirect_uri"], pending["state"])
    code = secrets.token_urlsafe(32)
    now = time.time()
    server.store.put("code", digest(code), {"grant": grant, "redirect_uri": pending["redirect_uri"],
                                            "code_challenge": pending.get("code_challenge"),
                                            "valid_until": now + CODE_LIFETIME}, expires=now + CODE_MEMORY)
    query = {"code": code} | ({"state": pending["state"]} if pending.get("state") is not None else {})
    separator = "&" if "?" in pending["redirect_uri"] else "?"
    return RedirectResponse(f"{pending['redirect_uri']}{separator}{urlencode(query)}", status_code=303)


def _grant(server: Any, session: Any, pending: dict[str, Any]) -> dict[str, Any]:
    data = session.data
    launch = pending.get("launch") or {}
    patient_id = launch.get("patient_id") or pending.get("patient_id")
    patient_fnr = pending.get("patient_fnr")
    if launch:
        if launch.get("user") and launch["user"] != data.get("hpr"):
            raise OAuthError("access_denied", "this launch was made for another user")
        patient = server.read_patient(patient_id) if patient_id else None
        patient_fnr = people.fnr_of(patient) if patient else None
    granted = scopes.split(pending["scope"])
    # online_access (SMART): the refresh token lives only as long as this login session
    online = "online_access" in granted and "offline_access" not in granted
    common = dict(client_id=pending["client_id"], scope=pending["scope"], audience=pending["aud"],
                  session=digest(session.id) if online else None,
                  patient_id=patient_id, encounter_id=launch.get("encounter_id"), nonce=pending.get("nonce"),
                  auth_time=data.get("auth_time"), acr=data.get("acr"))
    if session.kind == "citizen":
        own = data.get("patient_id")
        common["patient_id"] = common["patient_id"] or own  # standalone: the citizen's own record
        return grants.new_grant(actor=f"patient:{data['pid']}", fhir_user=f"Patient/{own}" if own else None,
                                patient_fnr=patient_fnr or data["pid"], **common)
    practitioner = data.get("practitioner_id")
    return grants.new_grant(actor=f"practitioner:{data['hpr']}",
                            fhir_user=f"Practitioner/{practitioner}" if practitioner else None,
                            patient_fnr=patient_fnr, organization=data.get("orgnr"), purpose=data.get("purpose"),
                            reason=data.get("reason"), **common)
