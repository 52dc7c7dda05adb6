"""The clinician workspace at /helsepersonell as an ASGI app, and `install(app)` which mounts it.

Every page goes through `_page` (as in the citizen portal): the handler runs in a worker thread
(pages read the database), the Clinician of the session is made (context.py) or the visitor is
sent to the HelseID-style login, every POST's CSRF token is checked, and an error becomes a
4xx page in the user's language, never a 500 for bad input. A refusal of the access rules on
a patient's page becomes the page that explains it and offers emergency access (access.py).

    day.py         /                       today's appointments, my patients, the inbox
    patients.py    /pasienter /pasienter/sok   find a patient (FNR, name, birth date), type-ahead
    summary.py     /pasient/{id}           the patient summary (kjernejournal-style)
    access.py      /pasient/{id}/tilgang   declare a purpose: restricted parts, emergency access
    documenting.py /pasient/{id}/ny/{kind} note, measurement, problem, medicine, referral, reply,
                                           questionnaire; /kodeverk type-ahead on ICPC-2/ICD-10
    schedule.py    /timebok                open and close Slots citizens can book
    launch.py      /pasient/{id}/app       SMART EHR launch in the patient's context
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import anyio.to_thread
from jinja2 import ChainableUndefined
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ehelse.access.policy import AccessPolicy
from ehelse.errors import FhirError
from ehelse.oauth.sessions import SessionContext, csrf_ok, current_session
from ehelse.portals.clinician import context
from ehelse.portals.clinician.messages import MESSAGES
from ehelse.portals.ui import Catalogue, Pages, ServerTiming, front_door, measure
from ehelse.portals.ui.mounting import FullPath, LazySessions, fhir_base_url, portal_starlette
from ehelse.portals.ui.timing import SCOPE_KEY
from ehelse.portals.ui.messages import MESSAGES as UI_MESSAGES

HERE = Path(__file__).parent
PREFIX = "/helsepersonell"
MAX_FORM = 64 * 1024
log = logging.getLogger("ehelse.portals.clinician")
Handler = Callable[..., Response]
NAV = (("day", "/"), ("patients", "/pasienter"), ("schedule", "/timebok"), ("shortcuts", "/hurtigtaster"))


class ClinicianPortal:
    """What the pages share in one process: settings, repository, router, the access policy's
    caches (care sets, emergency grants) and the templates."""

    def __init__(self, state: Any):
        self.state = state
        self.settings = state.settings
        self.policy = AccessPolicy()
        self.pages = Pages([HERE / "templates"], Catalogue(UI_MESSAGES, MESSAGES))
        # FHIR elements are optional almost everywhere: a missing `a.reaction` or `k.telecom`
        # renders as nothing here rather than failing the page (the citizen portal keeps strict).
        self.pages.env.undefined = ChainableUndefined

    @property
    def repo(self) -> Any:
        return self.state.repo

    @property
    def sessions(self) -> Any:
        return self.state.oauth.sessions

    @property
    def smart_app_url(self) -> str:
        return self.settings.smart_app_url

    def url(self, path: str = "/") -> str:
        return PREFIX + path

    def base_url(self, request: Request) -> str:
        return fhir_base_url(self.settings, request)

    def render(self, request: Request, template: str, clinician: Any = None, *, title: str, nav: str = "",
               status: int = 200, **values: Any) -> Response:
        t = self.pages.translator(request)
        portal = {"name": t("portal_name"), "home": self.url("/"), "logout_url": self.url("/logg-ut"),
                  "accessibility_url": self.url("/tilgjengelighet"), "logged_in": clinician is not None,
                  "nav": [{"href": self.url(path), "label": t("nav_" + key), "current": key == nav}
                          for key, path in NAV] if clinician is not None else []}
        values.setdefault("emergency", None)
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=None,
                                 clinician=clinician, url=self.url, **values)

    def error(self, request: Request, status: int, text: str = "", clinician: Any = None) -> Response:
        t = self.pages.translator(request)
        title = {404: t("not_found_title"), 403: t("forbidden_title")}.get(
            status, t("bad_request_title") if status < 500 else t("error_title"))
        body = text or {404: t("not_found_text"), 403: t("forbidden_text")}.get(status, "")
        return self.render(request, "clinician/error.html", clinician, title=title, status=status, text=body)


def _page(portal: ClinicianPortal, handler: Handler, *, login: bool = True) -> Callable:
    async def endpoint(request: Request) -> Response:
        form: dict[str, Any] = {}
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_FORM:
                return await anyio.to_thread.run_sync(lambda: portal.error(request, 413))
            try:
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                form = {}
        return await anyio.to_thread.run_sync(_run, portal, handler, request, form, login)

    return endpoint


def _run(portal: ClinicianPortal, handler: Handler, request: Request, form: dict[str, Any], login: bool) -> Response:
    clinician = None
    try:
        session = current_session(request)
        if login:
            if session is None or session.kind != "personnel":
                if request.headers.get("hx-request"):
                    return Response(status_code=401)
                return RedirectResponse(portal.url("/logg-inn"), status_code=303)
            with measure(request.scope, "access"):
                clinician = context.load(session, portal.repo, portal.state.router, portal.policy,
                                         portal.base_url(request), request.scope.get("state", {}).get("request_id", ""))
        if request.method == "POST" and not csrf_ok(request, form):
            return portal.error(request, 403, portal.pages.translator(request)("csrf_text"), clinician)
        if clinician is None:
            return handler(portal, request, clinician, form)
        with ExitStack() as stack:  # exits in reverse order: mark, commit the audit, time it
            marks: list[float] = []
            stack.callback(lambda: _add_timing(request.scope, "audit", marks))
            stack.enter_context(clinician.audit_batch())  # the page's audit records, durable before it is sent
            stack.callback(lambda: marks.append(time.perf_counter()))
            with measure(request.scope, "page"):
                return handler(portal, request, clinician, form)
    except FhirError as error:
        if error.status >= 500:
            log.exception("clinician workspace: server error on %s", request.url.path)
        text = "" if error.status >= 500 or error.status in (403, 404) else str(error.issues[0].diagnostics
                                                                             if getattr(error, "issues", None) else error)
        return portal.error(request, error.status if error.status < 500 else 500, text, clinician)


def _add_timing(scope: dict, name: str, marks: list[float]) -> None:
    """Server-Timing for the commit of the page's audit records (after the handler, before
    the first byte): what a page waits for the database's write lock shows there."""
    if marks:
        timings = scope.setdefault(SCOPE_KEY, {})
        timings[name] = timings.get(name, 0.0) + (time.perf_counter() - marks[0]) * 1000


def login(portal: ClinicianPortal, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    return front_door.login_page(portal, request, kind="personnel", template="clinician/login.html", login="helseid")


def logout(portal: ClinicianPortal, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    return front_door.logout(portal, request)


def shortcuts(portal: ClinicianPortal, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    return portal.render(request, "clinician/shortcuts.html", clinician, title=t("shortcuts_title"), nav="shortcuts")


def accessibility(portal: ClinicianPortal, request: Request, clinician: Any, form: dict[str, Any]) -> Response:
    """The accessibility statement the law asks of a public web site (likestillings- og
    diskrimineringsloven, forskrift om universell utforming av IKT), open without logging in."""
    t = portal.pages.translator(request)
    session = current_session(request)
    logged_in = session is not None and session.kind == "personnel"
    return portal.render(request, "clinician/accessibility.html", None, title=t("statement_title"), logged_in=logged_in)


def build(state: Any) -> tuple[ClinicianPortal, Any]:
    from ehelse.portals.clinician import access, day, documenting, launch, patients, schedule, summary

    portal = ClinicianPortal(state)
    p = lambda handler, **kw: _page(portal, handler, **kw)  # noqa: E731
    get, both, post = ["GET"], ["GET", "POST"], ["POST"]
    routes = [
        Route(PREFIX + "/", p(day.day), methods=get),
        Route(PREFIX + "/logg-inn", p(login, login=False), methods=get),
        Route(PREFIX + "/logg-ut", p(logout, login=False), methods=post),
        Route(PREFIX + "/hurtigtaster", p(shortcuts), methods=get),
        Route(PREFIX + "/tilgjengelighet", p(accessibility, login=False), methods=get),
        Route(PREFIX + "/pasienter", p(patients.find), methods=get),
        Route(PREFIX + "/pasienter/sok", p(patients.typeahead), methods=get),
        Route(PREFIX + "/pasient/{id}", p(summary.summary), methods=get),
        Route(PREFIX + "/pasient/{id}/tilgang", p(access.declare), methods=both),
        Route(PREFIX + "/pasient/{id}/avslutt-tilgang", p(access.end), methods=post),
        Route(PREFIX + "/pasient/{id}/ny/{kind}", p(documenting.document), methods=both),
        Route(PREFIX + "/pasient/{id}/app", p(launch.launch), methods=post),
        Route(PREFIX + "/kodeverk", p(documenting.codes), methods=get),
        Route(PREFIX + "/timebok", p(schedule.schedule), methods=both),
        Route(PREFIX, lambda request: RedirectResponse(PREFIX + "/", status_code=308)),
    ]
    sessions = LazySessions(lambda: portal.sessions)
    return portal, ServerTiming(SessionContext(portal_starlette(routes), sessions))


def install(app: Any) -> ClinicianPortal:
    """Mount the clinician workspace at /helsepersonell on the ehelse ASGI app (web/app.py)."""
    portal, asgi = build(app.state)
    app.mount(PREFIX, FullPath(asgi))
    return portal


