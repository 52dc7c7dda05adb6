"""Web sessions for the login pages and the portals: server-side records, a cookie that
holds only a random id, idle and absolute timeouts, logout, and CSRF protection.

    cookie      `__Host-ehelse_session` over https (Secure; HttpOnly; SameSite=Lax; Path=/);
                over plain http (development on loopback) `ehelse_session` without Secure,
                because browsers refuse a `__Host-` cookie that is not Secure.
    record      oauth_record kind "session", keyed by sha256(id) (oauth/store.py), so every
                server process knows every session; expires at the absolute timeout.
    idle        `session_idle_timeout` seconds without a request ends it; `seen` is
                written at most once a minute, so a page view rarely costs a write.
    CSRF        a synchroniser token per session (OWASP CSRF cheat sheet): every form
                carries `csrf_input(request)`; a POST without the right one gets 403.
                SameSite=Lax already stops most cross-site posts; the token stops the rest.

Portals use `current_session(request)` (None when not logged in) inside an app wrapped in
`SessionContext`, and `require_csrf(request, form)` on their POSTs.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from ehelse.oauth.store import digest

SECURE_COOKIE = "__Host-ehelse_session"
PLAIN_COOKIE = "ehelse_session"
CSRF_FIELD = "csrf_token"
_TOUCH_EVERY = 60.0  # seconds between writes of `seen`


@dataclass(slots=True)
class Session:
    id: str  # the cookie value; only its hash is stored
    data: dict[str, Any] = field(default_factory=dict)
    new: bool = False

    @property
    def kind(self) -> str:
        """anonymous (login in progress) | citizen | personnel."""
        return self.data.get("kind", "anonymous")

    @property
    def csrf(self) -> str:
        return self.data["csrf"]


class Sessions:
    def __init__(self, store: Any, settings: Any):
        self.store = store
        self.idle = settings.session_idle_timeout
        self.absolute = settings.session_absolute_timeout

    def load(self, request: Request) -> Session | None:
        """The live session of the request's cookie; an expired one is deleted."""
        sid = request.cookies.get(SECURE_COOKIE) or request.cookies.get(PLAIN_COOKIE)
        if not sid:
            return None
        found = self.store.get("session", digest(sid))
        if found is None:
            return None
        data, _ = found
        now = time.time()
        if now - data["seen"] > self.idle or now - data["created"] > self.absolute:
            self.store.delete("session", digest(sid))
            return None
        session = Session(sid, data)
        if now - data["seen"] > _TOUCH_EVERY:
            data["seen"] = now
            self.save(session)
        return session

    def start(self, kind: str = "anonymous", **data: Any) -> Session:
        """A new session with a fresh id (a login always gets a new id: no session fixation)."""
        now = time.time()
        session = Session(secrets.token_urlsafe(32), {"kind": kind, "created": now, "seen": now,
                                                       "csrf": secrets.token_urlsafe(24), **data}, new=True)
        self.save(session)
        return session

    def save(self, session: Session) -> None:
        self.store.put("session", digest(session.id), session.data, expires=session.data["created"] + self.absolute)

    def end(self, session: Session | None) -> None:
        if session is not None:
            self.store.delete("session", digest(session.id))


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if request.url.scheme == "https" else PLAIN_COOKIE


def set_cookie(response: Response, request: Request, session: Session) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(cookie_name(request), session.id, path="/", httponly=True, secure=secure, samesite="lax")


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(cookie_name(request), path="/", httponly=True,
                           secure=request.url.scheme == "https", samesite="lax")


class SessionContext:
    """ASGI middleware that makes `current_session(request)` work in the app it wraps."""

    def __init__(self, app: Any, sessions: Sessions):
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        scope["ehelse.sessions"] = self.sessions
        await self.app(scope, receive, send)


def sessions_of(request: Request) -> Sessions:
    return request.scope["ehelse.sessions"]


def current_session(request: Request) -> Session | None:
    """The logged-in (or logging-in) session of this request, loaded once per request."""
    if "ehelse.session" not in request.scope:
        request.scope["ehelse.session"] = sessions_of(request).load(request)
    return request.scope["ehelse.session"]


def csrf_input(request: Request) -> Markup:
    """The hidden form field for templates: `{{ csrf_input(request) }}`."""
    session = current_session(request)
    token = session.csrf if session else ""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    session = current_session(request)
    sent = form.get(CSRF_FIELD, "")
    return bool(session and sent and hmac.compare_digest(sent, session.csrf))
