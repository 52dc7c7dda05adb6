"""The built-in logins of the embedded/demo mode (`login_mode=builtin`), behaving like the
real ones so the rest of the platform cannot tell the difference:

    /login/idporten   citizens, in the style of ID-porten: choose a person of the demo cast
                      or search the seeded patients; the session carries `pid` (the FNR) and
                      `acr=idporten-loa-high`, as an ID-porten id_token does.
    /login/helseid    personnel, in the style of HelseID: HPR number, organisation (orgnr),
                      role, purpose of use (TREAT, ETREAT, COC, BTG) and a reason (required
                      for ETREAT and BTG, DOMAIN.md); security level 4.
    /login/logout     ends the session (POST, with the CSRF token).

With `login_mode=external` these pages are 404 and oauth/external.py takes the logins.
Every login makes a new session id (no session fixation) and is rate limited per IP and
per account.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.access.tokens import PURPOSES
from ehelse.oauth import people
from ehelse.oauth.authorize import after_login
from ehelse.oauth.sessions import clear_cookie, csrf_ok, current_session
from ehelse.audit.security import record_security

IDPORTEN_ACR = "idporten-loa-high"
HELSEID_LEVEL = "4"
ROLES = ("lege", "sykepleier", "helsesekretær", "analytiker", "administrator", "annet")  # the last two: /helsedata, /strategi editing


def _cast() -> tuple[list[Any], list[Any]]:
    from ehelse.nobasis.seed.cast import DEMO_CAST

    citizens = [m for m in DEMO_CAST.values() if m.fnr]
    personnel = [m for m in DEMO_CAST.values() if m.hpr]
    return citizens, personnel


def _start(server: Any, request: Request, template: str, **context: Any) -> Response:
    """Show a login page; a visitor without a session gets an anonymous one, which holds
    the CSRF token of the form (login CSRF)."""
    session = current_session(request)
    if session is None:
        session = server.sessions.start()
        request.scope["ehelse.session"] = session
    citizens, personnel = _cast()
    response = server.page(request, template, citizens=citizens, personnel=personnel, roles=ROLES,
                           purposes=PURPOSES, **context)
    return server.with_session(response, request, session)


def idporten(server: Any, request: Request) -> Response:
    if server.settings.login_mode != "builtin":
        return server.error_page(request, "not_found", status=404)
    if request.method == "GET":
        query = request.query_params.get("q", "")
        found = people.search_patients(server.repo, query) if query else []
        results = [{"name": people.display_name(p), "fnr": people.fnr_of(p)} for p in found if people.fnr_of(p)]
        return _start(server, request, "login_idporten.html", query=query, results=results)
    form = server.form(request)
    fnr = form.get("pid", "").strip()
    server.limit(request, "pid:" + fnr)
    if not csrf_ok(request, form):
        return server.error_page(request, "csrf", status=403)
    patient = people.patient_by_fnr(server.repo, fnr) if fnr.isdigit() and len(fnr) == 11 else None
    record_security(server.repo, interaction="login", actor_kind="patient", actor_id=fnr, ok=patient is not None,
                    detail="ID-porten (built-in)" if patient else "unknown person")
    if patient is None:
        return _start(server, request, "login_idporten.html", query="", results=[], error="unknown_person")
    return _logged_in(server, request, "citizen", pid=fnr, patient_id=patient["id"],
                            name=people.display_name(patient), acr=IDPORTEN_ACR)


def helseid(server: Any, request: Request) -> Response:
    if server.settings.login_mode != "builtin":
        return server.error_page(request, "not_found", status=404)
    if request.method == "GET":
        return _start(server, request, "login_helseid.html", values={})
    form = server.form(request)
    hpr = form.get("hpr", "").strip()
    server.limit(request, "hpr:" + hpr)
    if not csrf_ok(request, form):
        return server.error_page(request, "csrf", status=403)
    orgnr, purpose, reason = form.get("orgnr", "").strip(), form.get("purpose", "TREAT"), form.get("reason", "").strip()
    practitioner = people.practitioner_by_hpr(server.repo, hpr) if hpr.isdigit() else None
    error = None
    if practitioner is None:
        error = "unknown_hpr"
    elif not (orgnr.isdigit() and len(orgnr) == 9):
        error = "bad_orgnr"
    elif purpose not in PURPOSES:
        error = "bad_purpose"
    elif purpose in ("ETREAT", "BTG") and not reason:
        error = "reason_needed"  # DOMAIN.md: emergency access needs a reason
    record_security(server.repo, interaction="login", actor_kind="practitioner", actor_id=hpr, ok=error is None,
                    organization=orgnr, purpose=purpose, detail=error or "HelseID (built-in)")
    if error:
        return _start(server, request, "login_helseid.html", values=form, error=error)
    return _logged_in(server, request, "personnel", hpr=hpr, practitioner_id=practitioner["id"],
                            name=people.display_name(practitioner), orgnr=orgnr, role=form.get("role", ""),
                            purpose=purpose, reason=reason or None, security_level=HELSEID_LEVEL)


def _logged_in(server: Any, request: Request, kind: str, **identity: Any) -> Response:
    """Replace the anonymous session by a logged-in one, keeping a pending authorisation."""
    old = current_session(request)
    pending = old.data.get("authorize") if old else None
    after = old.data.get("next") if old else None  # a portal page that sent the user here
    server.sessions.end(old)
    session = server.sessions.start(kind, auth_time=time.time(), **identity)
    if pending or after:
        session.data.update({"authorize": pending} if pending else {"next": after})
        server.sessions.save(session)
    request.scope["ehelse.session"] = session
    return server.with_session(after_login(server, request, session), request, session)


def done(server: Any, request: Request) -> Response:
    session = current_session(request)
    if session is None or session.kind == "anonymous":
        return RedirectResponse("/login/idporten", status_code=303)
    return server.page(request, "done.html", session=session.data)


def logout(server: Any, request: Request) -> Response:
    form = server.form(request)
    if not csrf_ok(request, form):
        return server.error_page(request, "csrf", status=403)
    server.sessions.end(current_session(request))
    response = server.page(request, "logged_out.html")
    clear_cookie(response, request)
    return response
