"""The privacy officer's page at /revisjon: the same review as `ehelse audit report`.

    /revisjon/?since=&until=    grants, emergency reads, access without a care relationship,
                                refused attempts, unusual patterns, logins (audit/report.py)
    /revisjon/hendelse/{id}     one audit record (AuditEvent id chain-seq), every field
    /revisjon/logg-inn          the HelseID-style login, back to /revisjon

Only admins (personnel in the role `administrator`, as /strategi and /helsedata know them)
see it; others get the login link and 403. Every view is itself audited (an `audit-view`
row on the same trail, durable before the page is sent): the trail records who read it.
URLs carry patient resource ids and HPR numbers, never a national identity number.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ehelse.audit import log, report as reports
from ehelse.audit.security import record_security
from ehelse.errors import FhirError
from ehelse.oauth.sessions import SessionContext, current_session, set_cookie
from ehelse.portals.audit.messages import MESSAGES
from ehelse.portals.healthdata.app import is_admin
from ehelse.portals.ui import Catalogue, Pages, ServerTiming
from ehelse.portals.ui.mounting import FullPath, LazySessions, portal_starlette
from ehelse.portals.ui.messages import MESSAGES as UI_MESSAGES

HERE = Path(__file__).parent
PREFIX = "/revisjon"
SHOWN = 200  # rows per table; the CLI has the rest
DEFAULT_DAYS = 30


class AuditPortal:
    def __init__(self, state: Any):
        self.state = state
        self.pages = Pages([HERE / "templates"], Catalogue(UI_MESSAGES, MESSAGES))

    def render(self, request: Request, template: str, *, title: str, status: int = 200, **values: Any) -> Response:
        t = self.pages.translator(request)
        admin = is_admin(current_session(request))
        portal = {"name": t("audit_portal_name"), "home": PREFIX + "/", "logged_in": admin, "nav": [],
                  "accessibility_url": "", "logout_url": "/login/logout"}
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=None,
                                 admin=admin, shown=SHOWN, **values)

    def _refuse(self, request: Request) -> Response | None:
        if is_admin(current_session(request)):
            return None
        t = self.pages.translator(request)
        return self.render(request, "audit/forbidden.html", title=t("forbidden"), status=403)

    def _audit_view(self, request: Request, what: str) -> None:
        """The view itself goes on the trail, before the page is sent (a failure: no page)."""
        session = current_session(request)
        record_security(self.state.repo, interaction="audit-view", actor_kind="admin",
                        actor_id=session.data.get("hpr", ""), organization=session.data.get("orgnr") or "",
                        detail=what[:500])

    def overview(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused:
            return refused
        t = self.pages.translator(request)
        since = request.query_params.get("since") or (date.today() - timedelta(days=DEFAULT_DAYS)).isoformat()
        until = request.query_params.get("until") or ""
        try:
            result = reports.report(self.state.repo, since, until or None)
        except FhirError as exc:
            return self.render(request, "audit/report.html", title=t("bad_period"), status=exc.status,
                               error=str(exc), since=since, until=until, result=None)
        self._audit_view(request, f"audit report since={since} until={until}")
        return self.render(request, "audit/report.html", title=t("audit_title"), result=result, since=since,
                           until=until, error=None)

    def record(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused:
            return refused
        t = self.pages.translator(request)
        chain, _, seq = request.path_params["id"][:40].rpartition("-")
        rows = log.select(self.state.repo, log.LogQuery(ids=[(chain, int(seq))])) if seq.isdigit() and chain else []
        if not rows:
            return self.render(request, "audit/forbidden.html", title=t("not_found_title"), status=404)
        self._audit_view(request, f"audit record {chain}-{seq}")
        row = {k: v for k, v in rows[0].items() if k not in ("previous", "hash") and v not in ("", None)}
        return self.render(request, "audit/record.html", title=f"{t('record')} {chain}-{seq}", row=row)

    def login(self, request: Request) -> Response:
        """Start the HelseID-style login; the session remembers to come back to /revisjon."""
        sessions = self.state.oauth.sessions
        session = current_session(request) or sessions.start()
        session.data["next"] = PREFIX + "/"
        sessions.save(session)
        response = RedirectResponse(self.state.oauth.login_url("helseid"), status_code=303)
        set_cookie(response, request, session)
        return response


def _endpoint(portal: AuditPortal, name: str):
    async def endpoint(request: Request) -> Response:
        return await anyio.to_thread.run_sync(getattr(portal, name), request)

    return endpoint


def install(app: Any) -> AuditPortal:
    """Mount /revisjon on the ehelse ASGI app (web/app.py)."""
    portal = AuditPortal(app.state)
    routes = [Route(PREFIX, _endpoint(portal, "overview")), Route(PREFIX + "/", _endpoint(portal, "overview")),
              Route(PREFIX + "/hendelse/{id}", _endpoint(portal, "record")),
              Route(PREFIX + "/logg-inn", _endpoint(portal, "login"))]
    sessions = LazySessions(lambda: portal.state.oauth.sessions)
    asgi = ServerTiming(SessionContext(portal_starlette(routes), sessions))

    app.mount(PREFIX, FullPath(asgi))
    return portal
