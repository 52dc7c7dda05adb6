"""The strategy follow-up at /strategi: goals, sub-goals, roadmap and indicators, the
indicators computed live, each with its definition one click away.

    /strategi                      the plan: goals with their sub-goals, activities and indicators
    /strategi/indikator/{code}     one indicator: value, baseline/target, chart, breakdown by
                                   municipality (small cells suppressed), the definition

    /strategi/rediger/{code}       an admin's form for one item (editing.py)
    /strategi/logg-inn             the HelseID-style login for admins

The pages show aggregates only, suppressed below `small_cell_threshold` (with secondary
suppression), so reading needs no login: they are for leaders and the public. Admins
(personnel in the role `administrator`) edit items in the browser; the whole plan is
imported with `ehelse strategy import plan.csv` (docs/cli.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ehelse.analytics import library
from ehelse.errors import FhirError
from ehelse.oauth.sessions import SessionContext, csrf_ok, current_session
from ehelse.portals.healthdata.app import is_admin
from ehelse.portals.strategy import editing
from ehelse.portals.strategy.indicators import DEFINITIONS, compute
from ehelse.portals.strategy.messages import MESSAGES
from ehelse.portals.strategy.plan import STATUSES, PlanStore
from ehelse.portals.ui import Catalogue, Pages, ServerTiming
from ehelse.portals.ui.mounting import FullPath, LazySessions, portal_starlette
from ehelse.portals.ui.pages import flash
from ehelse.portals.ui.chart import Series, line_chart
from ehelse.portals.ui.i18n import language
from ehelse.portals.ui.messages import MESSAGES as UI_MESSAGES

HERE = Path(__file__).parent
PREFIX = "/strategi"


class StrategyPortal:
    def __init__(self, state: Any):
        self.state = state
        self.pages = Pages([HERE / "templates"], Catalogue(UI_MESSAGES, MESSAGES))

    def render(self, request: Request, template: str, *, title: str, status: int = 200, **values: Any) -> Response:
        t = self.pages.translator(request)
        admin = is_admin(current_session(request))
        portal = {"name": t("strategy_portal_name"), "home": PREFIX + "/", "logged_in": admin, "nav": [],
                  "accessibility_url": "", "logout_url": "/login/logout"}
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=None,
                                 admin=admin, **values)

    # -- pages --------------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        store = PlanStore(self.state.repo)
        store.ensure_seeded()
        items = store.items()
        t = self.pages.translator(request)
        threshold = self.state.settings.small_cell_threshold
        values = {i.code: compute(self.state.repo, i.data.get("computed", ""), threshold)
                  for i in items if i.kind == "indicator"}
        goals = [{"item": g, "subgoals": [{"item": s,
                                           "activities": [a for a in items if a.kind == "activity" and a.parent == s.code],
                                           "indicators": [(i, values.get(i.code)) for i in items
                                                          if i.kind == "indicator" and i.parent == s.code]}
                                          for s in items if s.kind == "subgoal" and s.parent == g.code]}
                 for g in items if g.kind == "goal"]
        return self.render(request, "strategy/overview.html", title=t("strategy_title"), goals=goals)

    def indicator(self, request: Request) -> Response:
        store = PlanStore(self.state.repo)
        store.ensure_seeded()
        t = self.pages.translator(request)
        item = store.get(request.path_params["code"][:20])
        if item is None or item.kind != "indicator":
            return self.render(request, "strategy/error.html", title=t("not_found_title"), status=404)
        key = item.data.get("computed", "")
        definition = DEFINITIONS.get(key)
        result = compute(self.state.repo, key, self.state.settings.small_cell_threshold)
        points = [(f"{item.data['baseline_year']}-07-01", float(item.data["baseline"]))] \
            if item.data.get("baseline") is not None and item.data.get("baseline_year") else []
        if result is not None:  # the measured history: one snapshot per day it was computed
            points += editing.record_snapshot(store, item, result.value)
        targets = [(f"{year}-07-01", float(v)) for year, v in sorted((item.data.get("targets") or {}).items())]
        if not targets and item.data.get("target") is not None and item.data.get("target_year"):
            targets = [(f"{item.data['target_year']}-07-01", float(item.data["target"]))]
        lang = language(request)
        chart = line_chart([Series(t("series_measured"), points), Series(t("series_target"), targets, kind="target")],
                           title=item.title, unit=item.data.get("unit", ""), t=t, lang=lang)
        view = "\n\n".join(json.dumps(library.load(name), ensure_ascii=False, indent=2) for name in definition.views) \
            if definition is not None and definition.views else None
        return self.render(request, "strategy/indicator.html", title=item.title, item=item, result=result,
                           definition=definition, view=view, chart=chart, points=points, targets=targets)


    def edit(self, request: Request, form: dict[str, str]) -> Response:
        """An admin's form for one item; others are sent to the login (GET) or refused (POST)."""
        t = self.pages.translator(request)
        session = current_session(request)
        if not is_admin(session):
            if request.method == "GET":
                return RedirectResponse(PREFIX + "/logg-inn", status_code=303)
            return self.render(request, "strategy/error.html", title=t("forbidden_edit"), status=403)
        if request.method == "POST" and not csrf_ok(request, form):
            return self.render(request, "strategy/error.html", title=t("csrf_text"), status=403)
        store = PlanStore(self.state.repo)
        store.ensure_seeded()
        item = store.get(request.path_params["code"][:20])
        if item is None:
            return self.render(request, "strategy/error.html", title=t("not_found_title"), status=404)
        values, error, status = editing.form_values(item), None, 200
        if request.method == "POST":
            try:
                store.save([editing.apply_form(item, form)])
            except FhirError as exc:
                issues = getattr(exc, "issues", None)
                error, status = (str(issues[0].diagnostics) if issues else str(exc)), exc.status
                values = {**values, **{k: form.get(k, "") for k in values}}
            else:
                flash(request, "success", t("saved"))
                target = f"/indikator/{item.code}" if item.kind == "indicator" else "/"
                return RedirectResponse(PREFIX + target, status_code=303)
        return self.render(request, "strategy/edit.html", title=t("edit_title", code=item.code) + f": {item.title}",
                           status=status, item=item, values=values, fields=editing.FIELDS[item.kind],
                           statuses=STATUSES, error=error)

    def login(self, request: Request, form: dict[str, str]) -> Response:
        """Start the HelseID-style login; the session remembers to come back to /strategi."""
        sessions = self.state.oauth.sessions
        session = current_session(request)
        if session is None:
            session = sessions.start()
        session.data["next"] = PREFIX + "/"
        sessions.save(session)
        from ehelse.oauth.sessions import set_cookie

        response = RedirectResponse(self.state.oauth.login_url("helseid"), status_code=303)
        set_cookie(response, request, session)
        return response


def _endpoint(portal: StrategyPortal, name: str):
    async def endpoint(request: Request) -> Response:
        if name in ("edit", "login"):
            form: dict[str, str] = {}
            if request.method == "POST":
                body = await request.body()
                if len(body) > 64 * 1024:
                    return Response("Request too large", status_code=413)
                try:
                    form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except (UnicodeDecodeError, ValueError):
                    form = {}
            return await anyio.to_thread.run_sync(getattr(portal, name), request, form)
        return await anyio.to_thread.run_sync(getattr(portal, name), request)

    return endpoint


def install(app: Any) -> StrategyPortal:
    """Mount /strategi on the ehelse ASGI app (web/app.py)."""
    portal = StrategyPortal(app.state)
    routes = [Route(PREFIX, _endpoint(portal, "overview")),
              Route(PREFIX + "/", _endpoint(portal, "overview")),
              Route(PREFIX + "/indikator/{code}", _endpoint(portal, "indicator")),
              Route(PREFIX + "/rediger/{code}", _endpoint(portal, "edit"), methods=["GET", "POST"]),
              Route(PREFIX + "/logg-inn", _endpoint(portal, "login"))]
    sessions = LazySessions(lambda: portal.state.oauth.sessions)
    asgi = ServerTiming(SessionContext(portal_starlette(routes), sessions))

    app.mount(PREFIX, FullPath(asgi))
    return portal
