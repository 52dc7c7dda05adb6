"""How a portal is mounted on the ehelse ASGI app (web/app.py): the two small adapters every
portal needs."""

from __future__ import annotations

from typing import Any, Callable


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
