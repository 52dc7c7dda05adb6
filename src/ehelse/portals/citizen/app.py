"""The citizen portal at /innbygger as an ASGI app, and `install(app)` which mounts it.

Every page goes through `_page`: it runs the handler in a worker thread (pages read the
database), makes the Citizen of the session (context.py) or sends the visitor to the
ID-porten-style login, checks the CSRF token of every POST (oauth/sessions.py), and turns
an error into a 4xx page in the user's language, never a 500 for bad input. Handlers are
plain functions `(portal, request, citizen, form) -> Response` in the page modules:

    overview.py       /              what is new, next appointment, medicines, critical info
    people.py         /velg-person   whom the citizen acts for, and what each right allows
    record.py         /journal /legemidler /provesvar /dokumenter /besok
    messaging.py      /meldinger     Communication threads with attachments
    appointments.py   /timer         booking into free Slots, cancelling
    selfreport.py     /egenmaling /skjema   home measurements, questionnaires
    privacy.py        /personvern /fullmakt   access log, blocks, restriction, reservation
    download.py       /last-ned      the whole record as a FHIR Bundle or a readable summary
    pdf.py            /last-ned/sammendrag.pdf   the summary as a PDF (fpdf2)
    about.py          /tilgjengelighet, login and logout
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ehelse.access.policy import AccessPolicy
from ehelse.errors import FhirError
from ehelse.oauth.sessions import SessionContext, csrf_ok, current_session
from ehelse.portals.citizen import context
from ehelse.portals.citizen.messages import MESSAGES
from ehelse.portals.ui import Catalogue, Pages, ServerTiming, measure
from ehelse.portals.ui.mounting import FullPath, LazySessions, fhir_base_url, portal_starlette
from ehelse.portals.ui.messages import MESSAGES as UI_MESSAGES

HERE = Path(__file__).parent
PREFIX = "/innbygger"
MAX_FORM = 64 * 1024
MAX_UPLOAD = 2 * 1024 * 1024  # an attachment; the FHIR body limit is far above it
log = logging.getLogger("ehelse.portals.citizen")
Handler = Callable[..., Response]


class CitizenPortal:
    """What the pages share in one process: settings, repository, router, the access
    policy's caches and the templates."""

    def __init__(self, state: Any):
        self.state = state
        self.settings = state.settings
        self.policy = AccessPolicy()
        self.pages = Pages([HERE / "templates"], Catalogue(UI_MESSAGES, MESSAGES))

    @property
    def repo(self) -> Any:
        return self.state.repo

    @property
    def sessions(self) -> Any:
        return self.state.oauth.sessions

    def url(self, path: str = "/") -> str:
        return PREFIX + path

    def base_url(self, request: Request) -> str:
        return fhir_base_url(self.settings, request)

    def render(self, request: Request, template: str, citizen: Any = None, *, title: str, nav: str = "",
               status: int = 200, **values: Any) -> Response:
        t = self.pages.translator(request)
        portal = {"name": t("portal_name"), "home": self.url("/"), "logout_url": self.url("/logg-ut"),
                  "accessibility_url": self.url("/tilgjengelighet"), "logged_in": citizen is not None,
                  "nav": _nav(self, t, citizen, nav) if citizen is not None else []}
        acting = None
        if citizen is not None:
            acting = {"name": citizen.acting.name, "self": citizen.is_self, "relation": t("relation_" + citizen.acting.relation),
                      "switch_url": self.url("/velg-person") if len(citizen.people) > 1 else None}
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=acting,
                                 citizen=citizen, url=self.url, **values)

    def error(self, request: Request, status: int, text: str = "", citizen: Any = None) -> Response:
        t = self.pages.translator(request)
        title = {404: t("not_found_title"), 403: t("forbidden_title")}.get(status, t("bad_request_title") if status < 500 else t("error_title"))
        body = text or {404: t("not_found_text"), 403: t("forbidden_text")}.get(status, "")
        return self.render(request, "citizen/error.html", citizen, title=title, status=status, text=body)


def _nav(portal: CitizenPortal, t: Any, citizen: Any, current: str) -> list[dict[str, Any]]:
    items = [("overview", "/"), ("record", "/journal"), ("results", "/provesvar"), ("documents", "/dokumenter"),
             ("messages", "/meldinger"), ("appointments", "/timer"), ("selfreport", "/egenmaling"),
             ("privacy", "/personvern"), ("download", "/last-ned")]
    rights = citizen.rights
    hidden = set()
    if "DocumentReference" in rights.hidden_types:
        hidden |= {"documents", "download"}  # parents of a 12-15 year old: no journal documents
    if not (citizen.is_self or rights.consents):
        hidden.add("privacy")  # consents and reservations stay with the person (DOMAIN.md)
    return [{"href": portal.url(path), "label": t("nav_" + key), "current": key == current}
            for key, path in items if key not in hidden]


def _page(portal: CitizenPortal, handler: Handler, *, login: bool = True) -> Callable:
    async def endpoint(request: Request) -> Response:
        form: dict[str, Any] = {}
        if request.method == "POST":
            form = await _read_form(request)
            if form is None:
                return await anyio.to_thread.run_sync(lambda: portal.error(request, 413))
        return await anyio.to_thread.run_sync(_run, portal, handler, request, form, login)

    return endpoint


def _run(portal: CitizenPortal, handler: Handler, request: Request, form: dict[str, Any], login: bool) -> Response:
    citizen = None
    try:
        session = current_session(request)
        if login:
            if session is None or session.kind != "citizen":
                return RedirectResponse(portal.url("/logg-inn"), status_code=303)
            with measure(request.scope, "access"):
                citizen = context.load(session, portal.repo, portal.state.router, portal.policy,
                                       portal.base_url(request), request.scope.get("state", {}).get("request_id", ""))
        if request.method == "POST" and not csrf_ok(request, form):
            t = portal.pages.translator(request)
            return portal.error(request, 403, t("csrf_text"), citizen)
        if citizen is None:
            return handler(portal, request, citizen, form)
        # One AuditEvent per person and outcome for the whole page instead of one per search
        # (a page makes 5-8): written in one commit when the block ends, so it is durable
        # before the page is sent (access/repository.py audit_batch; issue 7's speed target).
        with citizen.repo.audit_batch():
            return handler(portal, request, citizen, form)
    except FhirError as error:
        if error.status >= 500:
            log.exception("citizen portal: server error on %s", request.url.path)
        return portal.error(request, error.status if error.status < 500 else 500, "", citizen)


async def _read_form(request: Request) -> dict[str, Any] | None:
    """Form fields (last one wins) and uploads (`UploadFile` read into (name, type, bytes)).
    None when the body is too large."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD + MAX_FORM:
            return None
        try:
            form = await request.form(max_files=3, max_fields=50)
        except Exception:  # a malformed multipart body (or no parser installed): no fields, so CSRF refuses it
            return {}
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(MAX_UPLOAD + 1)
                if value.filename:
                    out[key] = (value.filename, value.content_type or "", data)
            else:
                out[key] = value
        await form.close()
        return out
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def build(state: Any) -> tuple[CitizenPortal, Any]:
    from ehelse.portals.citizen import (about, appointments, download, messaging, overview, pdf, people, privacy,
                                        record, selfreport)

    portal = CitizenPortal(state)
    p = lambda handler, **kw: _page(portal, handler, **kw)  # noqa: E731
    get, both, post = ["GET"], ["GET", "POST"], ["POST"]
    routes = [
        Route(PREFIX + "/", p(overview.overview), methods=get),
        Route(PREFIX + "/logg-inn", p(about.login, login=False), methods=get),
        Route(PREFIX + "/logg-ut", p(about.logout, login=False), methods=post),
        Route(PREFIX + "/tilgjengelighet", p(about.accessibility, login=False), methods=get),
        Route(PREFIX + "/velg-person", p(people.choose), methods=both),
        Route(PREFIX + "/journal", p(record.record), methods=get),
        Route(PREFIX + "/legemidler", p(record.medicines), methods=get),
        Route(PREFIX + "/provesvar", p(record.results), methods=get),
        Route(PREFIX + "/provesvar/{code}", p(record.result), methods=get),
        Route(PREFIX + "/dokumenter", p(record.documents), methods=get),
        Route(PREFIX + "/dokumenter/{id}", p(record.document), methods=get),
        Route(PREFIX + "/meldinger", p(messaging.inbox), methods=both),
        Route(PREFIX + "/meldinger/{id}", p(messaging.thread), methods=both),
        Route(PREFIX + "/meldinger/{id}/vedlegg/{n:int}", p(messaging.attachment), methods=get),
        Route(PREFIX + "/timer", p(appointments.appointments), methods=both),
        Route(PREFIX + "/egenmaling", p(selfreport.measurements), methods=both),
        Route(PREFIX + "/skjema", p(selfreport.questionnaires), methods=get),
        Route(PREFIX + "/skjema/{id}", p(selfreport.questionnaire), methods=both),
        Route(PREFIX + "/personvern", p(privacy.privacy), methods=both),
        Route(PREFIX + "/fullmakt", p(privacy.fullmakt), methods=both),
        Route(PREFIX + "/last-ned", p(download.download), methods=get),
        Route(PREFIX + "/last-ned/fhir.json", p(download.bundle), methods=get),
        Route(PREFIX + "/last-ned/sammendrag", p(download.summary), methods=get),
        Route(PREFIX + "/last-ned/sammendrag.pdf", p(pdf.summary_pdf), methods=get),
        Route(PREFIX, lambda request: RedirectResponse(PREFIX + "/", status_code=308)),
    ]
    starlette = portal_starlette(routes)
    return portal, ServerTiming(SessionContext(starlette, LazySessions(lambda: portal.sessions)))


def install(app: Any) -> CitizenPortal:
    """Mount the citizen portal at /innbygger on the ehelse ASGI app (web/app.py)."""
    portal, asgi = build(app.state)
    app.mount(PREFIX, FullPath(asgi))
    return portal


