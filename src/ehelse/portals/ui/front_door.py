"""The portals' front door: the login page that sends a person to the built-in (or external)
login and back, and logout. One login for the whole site (the authorisation server's sessions)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.oauth.sessions import clear_cookie, current_session, set_cookie


def login_page(portal: Any, request: Request, *, kind: str, template: str, login: str) -> Response:
    """A person already logged in as `kind` (citizen | personnel) goes on to the portal's start;
    anyone else gets `template` with the login button for `login` (idporten | helseid). The
    (anonymous) session remembers to come back here after the login."""
    session = current_session(request)
    if session is not None and session.kind == kind:
        return RedirectResponse(portal.url("/"), status_code=303)
    if session is None:
        session = portal.sessions.start()
        request.scope["ehelse.session"] = session
    session.data["next"] = portal.url("/")
    portal.sessions.save(session)
    t = portal.pages.translator(request)
    response = portal.render(request, template, title=t("login_title"),
                             login_url=portal.state.oauth.login_url(login))
    set_cookie(response, request, session)
    return response


def logout(portal: Any, request: Request) -> Response:
    portal.sessions.end(current_session(request))
    response = RedirectResponse(portal.url("/logg-inn"), status_code=303)
    clear_cookie(response, request)
    return response
