"""/helsedata: an analyst runs a ViewDefinition and downloads the result (strategy goal 3).

    GET  /helsedata/            the form: a library view or a pasted one, engine, project, purpose
    POST /helsedata/            run it: the first rows as a table (run.py)
    POST /helsedata/last-ned    run it again and download CSV or Parquet (stateless: the form
                                travels with the request, so nothing is kept between requests)
    GET  /helsedata/logg-inn    the HelseID-style login button

Who may: personnel logged in with the built-in HelseID-style login in the role `analytiker`
or `administrator` (ANALYST_ROLES); only `administrator` may turn pseudonymisation off.
Every POST checks the CSRF token; every run is audited (run.execute).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ehelse.access.actor import Actor
from ehelse.analytics import library
from ehelse.errors import FhirError
from ehelse.oauth.sessions import SessionContext, csrf_ok, current_session, set_cookie
from ehelse.portals.healthdata import run
from ehelse.portals.healthdata.messages import MESSAGES
from ehelse.portals.ui import Catalogue, Pages, ServerTiming
from ehelse.portals.ui.mounting import FullPath, LazySessions, portal_starlette
from ehelse.portals.ui.messages import MESSAGES as UI_MESSAGES

HERE = Path(__file__).parent
PREFIX = "/helsedata"
MAX_FORM = 128 * 1024
ANALYST_ROLES = ("analytiker", "administrator")
ADMIN_ROLE = "administrator"
log = logging.getLogger("ehelse.portals.healthdata")


def is_admin(session: Any) -> bool:
    """An admin of the web pages: personnel logged in in the role `administrator`."""
    return session is not None and session.kind == "personnel" and session.data.get("role") == ADMIN_ROLE


def is_analyst(session: Any) -> bool:
    return session is not None and session.kind == "personnel" and session.data.get("role") in ANALYST_ROLES


def actor_of(session: Any) -> Actor:
    """The analyst as the audit trail's actor: the HPR number and organisation of the login.
    No purpose of use code: the run's own purpose (free text) goes into the audit record."""
    return Actor(kind="practitioner", subject=session.data.get("hpr", ""), organization=session.data.get("orgnr"),
                 claims={"name": session.data.get("name", ""), "role": session.data.get("role", "")})


class HealthDataPortal:
    def __init__(self, state: Any):
        self.state = state
        self.pages = Pages([HERE / "templates"], Catalogue(UI_MESSAGES, MESSAGES))

    @property
    def sessions(self) -> Any:
        return self.state.oauth.sessions

    def render(self, request: Request, template: str, *, title: str, status: int = 200, **values: Any) -> Response:
        t = self.pages.translator(request)
        session = current_session(request)
        portal = {"name": t("healthdata_portal_name"), "home": PREFIX + "/", "nav": [], "accessibility_url": "",
                  "logged_in": is_analyst(session), "logout_url": "/login/logout"}
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=None,
                                 **values)

    # -- pages --------------------------------------------------------------------------------
    def form_page(self, request: Request, form: dict[str, str]) -> Response:
        t = self.pages.translator(request)
        session = current_session(request)
        values = _values(form)
        outcome, error, status = None, None, 200
        if request.method == "POST":
            try:
                asked = run.read_form(form, admin=is_admin(session))
                outcome = run.execute(self.state.repo, self.sessions.store, asked, actor_of(session),
                                      limit=run.PREVIEW_ROWS)
            except FhirError as exc:
                if exc.status >= 500:
                    raise
                error, status = _text(exc), exc.status
        return self.render(request, "healthdata/page.html", title=t("healthdata_title"), status=status,
                           values=values, views=library.names(), engines=run.ENGINES, outcome=outcome, error=error,
                           admin=is_admin(session), formats=list(run.FORMATS))

    def download(self, request: Request, form: dict[str, str]) -> Response:
        session = current_session(request)
        fmt = form.get("format", "csv")
        try:
            asked = run.read_form(form, admin=is_admin(session))
            outcome = run.execute(self.state.repo, self.sessions.store, asked, actor_of(session), limit=None)
            body = run.as_file(outcome, fmt, asked.view)
        except FhirError as exc:
            if exc.status >= 500:
                raise
            return self.form_page_error(request, form, exc)
        name = (asked.view.name or "view") + ("-pseudonymisert" if asked.pseudonymise else "") + "." + fmt
        return Response(body, media_type=run.FORMATS[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    def form_page_error(self, request: Request, form: dict[str, str], exc: FhirError) -> Response:
        t = self.pages.translator(request)
        session = current_session(request)
        return self.render(request, "healthdata/page.html", title=t("healthdata_title"), status=exc.status,
                           values=_values(form), views=library.names(), engines=run.ENGINES, outcome=None, error=_text(exc),
                           admin=is_admin(session), formats=list(run.FORMATS))

    def login(self, request: Request) -> Response:
        """The login button; the (anonymous) session remembers to come back here."""
        t = self.pages.translator(request)
        session = current_session(request)
        if session is None:
            session = self.sessions.start()
            request.scope["ehelse.session"] = session
        session.data["next"] = PREFIX + "/"
        self.sessions.save(session)
        response = self.render(request, "healthdata/login.html", title=t("login_title_hd"),
                               login_url=self.state.oauth.login_url("helseid"),
                               wrong_role=session.kind == "personnel" and not is_analyst(session))
        set_cookie(response, request, session)
        return response


def _values(form: dict[str, str]) -> dict[str, str]:
    """The form's fields as shown back (the templates are strict about missing keys)."""
    return {"library": "patient_demographics", "engine": "duckdb", "project": "", "purpose": "", "view_json": "",
            "identifiable": "", **form}


def _text(exc: FhirError) -> str:
    issues = getattr(exc, "issues", None)
    return str(issues[0].diagnostics) if issues else str(exc)


def _endpoint(portal: HealthDataPortal, name: str, *, login: bool = True) -> Callable:
    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_FORM:
                return Response("Request too large", status_code=413)
            try:
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                form = {}
        return await anyio.to_thread.run_sync(_run, portal, name, request, form, login)

    return endpoint


def _run(portal: HealthDataPortal, name: str, request: Request, form: dict[str, str], login: bool) -> Response:
    if not login:
        return portal.login(request)
    session = current_session(request)
    if not is_analyst(session):
        return RedirectResponse(PREFIX + "/logg-inn", status_code=303)
    if request.method == "POST" and not csrf_ok(request, form):
        t = portal.pages.translator(request)
        return portal.render(request, "healthdata/error.html", title=t("csrf_title_hd"), status=403)
    if name == "download":
        return portal.download(request, form)
    return portal.form_page(request, form)


def install(app: Any) -> HealthDataPortal:
    """Mount /helsedata on the ehelse ASGI app (web/app.py)."""
    portal = HealthDataPortal(app.state)
    routes = [Route(PREFIX + "/", _endpoint(portal, "form"), methods=["GET", "POST"]),
              Route(PREFIX + "/last-ned", _endpoint(portal, "download"), methods=["POST"]),
              Route(PREFIX + "/logg-inn", _endpoint(portal, "login", login=False), methods=["GET"]),
              Route(PREFIX, lambda request: RedirectResponse(PREFIX + "/", status_code=308))]
    asgi = ServerTiming(SessionContext(portal_starlette(routes), LazySessions(lambda: portal.sessions)))

    app.mount(PREFIX, FullPath(asgi))
    return portal
