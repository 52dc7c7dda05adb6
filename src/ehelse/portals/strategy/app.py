"""The strategy follow-up at /strategi: goals, sub-goals, roadmap and indicators, the
indicators computed live, each with its definition one click away.

    /strategi                      the plan: goals with their sub-goals, activities and indicators
    /strategi/indikator/{code}     one indicator: value, baseline/target, chart, breakdown by
                                   municipality (small cells suppressed), the definition

The pages show aggregates only, suppressed below `small_cell_threshold` (with secondary
suppression), so they need no login: they are for leaders and the public. The plan is edited
with `ehelse strategy import plan.csv` (docs/cli.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ehelse.analytics import library
from ehelse.portals.strategy.indicators import DEFINITIONS, compute
from ehelse.portals.strategy.messages import MESSAGES
from ehelse.portals.strategy.plan import PlanStore
from ehelse.portals.ui import Catalogue, Pages
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
        portal = {"name": t("strategy_portal_name"), "home": PREFIX + "/", "logged_in": False, "nav": [],
                  "accessibility_url": PREFIX + "/"}
        return self.pages.render(request, template, status=status, title=title, portal=portal, acting_for=None,
                                 **values)

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
        if result is not None and result.value is not None:
            from datetime import date

            points.append((date.today().isoformat(), result.value))
        targets = [(f"{year}-07-01", float(v)) for year, v in sorted((item.data.get("targets") or {}).items())]
        if not targets and item.data.get("target") is not None and item.data.get("target_year"):
            targets = [(f"{item.data['target_year']}-07-01", float(item.data["target"]))]
        lang = language(request)
        chart = line_chart([Series(t("series_measured"), points), Series(t("series_target"), targets, kind="target")],
                           title=item.title, unit=item.data.get("unit", ""), t=t, lang=lang)
        view = json.dumps(library.load(definition.view), ensure_ascii=False, indent=2) \
            if definition is not None and definition.view else None
        return self.render(request, "strategy/indicator.html", title=item.title, item=item, result=result,
                           definition=definition, view=view, chart=chart, points=points, targets=targets)


def _endpoint(portal: StrategyPortal, name: str):
    async def endpoint(request: Request) -> Response:
        return await anyio.to_thread.run_sync(getattr(portal, name), request)

    return endpoint


def install(app: Any) -> StrategyPortal:
    """Mount /strategi on the ehelse ASGI app (web/app.py)."""
    portal = StrategyPortal(app.state)
    asgi = Starlette(routes=[Route(PREFIX, _endpoint(portal, "overview")),
                             Route(PREFIX + "/", _endpoint(portal, "overview")),
                             Route(PREFIX + "/indikator/{code}", _endpoint(portal, "indicator"))])

    async def full_path(scope: dict, receive: Any, send: Any) -> None:
        await asgi({**scope, "root_path": ""}, receive, send)

    app.mount(PREFIX, full_path)
    return portal
