"""How a portal is mounted on the ehelse ASGI app (web/app.py): the small adapters every
portal needs."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from ehelse.storage.unavailable import RETRY_AFTER, unavailable
from ehelse.web.responses import error_page


def portal_starlette(routes: Sequence[Any]) -> Starlette:
    """A portal's Starlette app, whose failures are pages: Starlette answers an exception that
    escapes a page itself (its ServerErrorMiddleware, before ours sees it) with a plain-text
    500, so the database being down showed a person "Internal Server Error". Here it is the
    503 page (web/responses.error_page: bokmål, then English) with Retry-After when the
    database cannot take the request now (storage/unavailable.py), else the 500 page; the
    exception still reaches web/middleware.py, which logs it."""
    return Starlette(routes=routes, exception_handlers={Exception: _failure_page})


def _failure_page(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "")
    if unavailable(exc) is not None:
        return Response(error_page(503, request_id), 503, headers={"Retry-After": RETRY_AFTER},
                        media_type="text/html; charset=utf-8")
    return Response(error_page(500, request_id), 500, media_type="text/html; charset=utf-8")


class FullPath:
    """EhelseApp.mount sets root_path to the prefix; the portals' routes name full paths."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app({**scope, "root_path": ""}, receive, send)


class LazySessions:
    """The authorisation server's sessions (one login for the whole site), looked up on first
    use: the portal is built before the OAuth server has opened its store."""

    def __init__(self, sessions: Callable[[], Any]):
        self._sessions = sessions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sessions(), name)


def fhir_base_url(settings: Any, request: Any) -> str:
    """The FHIR base the portal's router calls answer for (Location, fullUrl, SMART `iss`): the
    configured public base URL, else the request's own."""
    if settings.base_url:
        return settings.base_url.rstrip("/") + "/fhir"
    return f"{request.url.scheme}://{request.url.netloc}/fhir"
