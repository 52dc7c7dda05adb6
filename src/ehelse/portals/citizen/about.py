"""Logging in and out (through the built-in ID-porten-style login, oauth/login.py) and the
accessibility statement (tilgjengelighetserklæring), which the law asks of a public web site."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ehelse.oauth.sessions import current_session
from ehelse.portals.ui import front_door


def login(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    return front_door.login_page(portal, request, kind="citizen", template="citizen/login.html", login="idporten")


def logout(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    return front_door.logout(portal, request)


def accessibility(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    session = current_session(request)
    logged_in = session is not None and session.kind == "citizen"
    return portal.render(request, "citizen/accessibility.html", None, title=t("a11y_title"), logged_in=logged_in)
