"""Logging in and out (through the built-in ID-porten-style login, oauth/login.py) and the
accessibility statement (tilgjengelighetserklæring), which the law asks of a public web site."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.oauth.sessions import clear_cookie, current_session, set_cookie


def login(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """The portal's front door: a logged-in citizen goes on to the overview; anyone else gets
    a page with the login button. The (anonymous) session remembers to come back here."""
    session = current_session(request)
    if session is not None and session.kind == "citizen":
        return RedirectResponse(portal.url("/"), status_code=303)
    if session is None:
        session = portal.sessions.start()
        request.scope["ehelse.session"] = session
    session.data["next"] = portal.url("/")
    portal.sessions.save(session)
    t = portal.pages.translator(request)
    response = portal.render(request, "citizen/login.html", title=t("login_title"),
                             login_url=portal.state.oauth.login_url("idporten"))
    set_cookie(response, request, session)
    return response


def logout(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    portal.sessions.end(current_session(request))
    response = RedirectResponse(portal.url("/logg-inn"), status_code=303)
    clear_cookie(response, request)
    return response


def accessibility(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    session = current_session(request)
    logged_in = session is not None and session.kind == "citizen"
    return portal.render(request, "citizen/accessibility.html", None, title=t("a11y_title"), logged_in=logged_in)
