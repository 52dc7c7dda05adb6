"""Rendering a portal page: one Jinja2 environment per portal (autoescape on), the shared
layout, the words of the page's language, CSRF fields, flash messages and formatting.

    pages = Pages([citizen_templates], Catalogue(ui_messages, citizen_messages))
    pages.render(request, "citizen/overview.html", title_key="overview", ...) -> HTMLResponse

Templates get: `t` (the translator), `lang`, `lang_url(code)`, `csrf_input()`, `flashes`,
`static(path)`, the filters `date`, `datetime`, `number`, `quantity`, and whatever the page
passes. Pages are never cached (they hold health data: `Cache-Control: no-store`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ehelse.oauth.sessions import csrf_input, current_session, sessions_of
from ehelse.portals.ui import formatting
from ehelse.portals.ui.i18n import COOKIE, LANGUAGES, NAMES, Catalogue, language

UI_TEMPLATES = Path(__file__).parent / "templates"
FLASH_KEY = "flash"


class Pages:
    def __init__(self, template_dirs: Sequence[Path], catalogue: Catalogue, *, static_version: str = "1"):
        self.catalogue = catalogue
        self.env = Environment(loader=FileSystemLoader([*template_dirs, UI_TEMPLATES]),
                               autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        # The language switch offers the languages this portal's catalogue has every word of
        # (bokmål and English everywhere; nynorsk where a portal has it, the citizen portal).
        self.env.globals.update(languages=LANGUAGES, offered=catalogue.complete(), language_names=NAMES,
                                static=lambda path: f"/static/{path}?v={static_version}")

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = language(request)
        t = self.catalogue.translator(lang)
        html = self.env.get_template(template).render(
            request=request, t=t, lang=lang, lang_url=lambda code: lang_url(request, code),
            csrf_input=lambda: csrf_input(request), flashes=pop_flashes(request),
            date=lambda v, short=False: formatting.format_date(v, lang, short=short),
            datetime=lambda v: formatting.format_datetime(v, lang),
            number=lambda v, decimals=None: formatting.format_number(v, lang, decimals),
            quantity=lambda q: formatting.format_quantity(q, lang), **context)
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                                   "Content-Language": lang})
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, path="/", samesite="lax",
                                secure=request.url.scheme == "https")
        return response

    def translator(self, request: Request) -> Any:
        return self.catalogue.translator(language(request))


def lang_url(request: Request, code: str) -> str:
    """The same page in another language: the path with `lang=` set, other parameters kept."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", code)]
    return f"{request.scope['path']}?{urlencode(query)}"  # scope path: the full path (EhelseApp.mount)


def flash(request: Request, kind: str, text: str) -> None:
    """A message for the next page the user sees (after a POST's redirect): kind is
    success | info | warning | danger (Designsystemet alert colours)."""
    session = current_session(request)
    if session is None:
        return
    session.data.setdefault(FLASH_KEY, []).append({"kind": kind, "text": text})
    sessions_of(request).save(session)


def pop_flashes(request: Request) -> list[dict[str, str]]:
    session = current_session(request) if "ehelse.sessions" in request.scope else None
    if session is None or not session.data.get(FLASH_KEY):
        return []
    messages = session.data.pop(FLASH_KEY)
    sessions_of(request).save(session)
    return messages
