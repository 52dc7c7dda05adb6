"""The authorisation server as an ASGI app, and `install(app)` which mounts it.

    /oauth2/authorize /picker /consent      oauth/authorize.py
    /oauth2/token                           oauth/token_endpoint.py
    /oauth2/introspect /revoke /register /jwks /userinfo   oauth/endpoints.py
    /login/idporten /helseid /logout /done  oauth/login.py (built-in mode)
    /login/callback                         oauth/external.py (external mode)
    /.well-known/openid-configuration, /fhir/.well-known/smart-configuration (no token)
    /oauth2/static/...                      the one small stylesheet

`OAuthServer` is what the endpoints share: settings, the repository, the token service (the
one signing path, access/tokens.py), the record store, sessions, page rendering and the URL
helpers. One per process, made on first request; it keeps nothing another process needs.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio.to_thread
from typing import Any, Callable
from urllib.parse import parse_qsl

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ehelse.errors import FhirError, TooManyRequests
from ehelse.oauth import authorize, endpoints, external, login, token_endpoint
from ehelse.oauth.i18n import language, texts
from ehelse.oauth.sessions import Session, SessionContext, Sessions, csrf_input, set_cookie
from ehelse.oauth.store import store_for

HERE = Path(__file__).parent
_MAX_FORM = 64 * 1024
_PURGE_EVERY = 600.0


class OAuthServer:
    def __init__(self, state: Any):
        self.state = state  # web.app.AppState: settings, repo and token service of the process
        self.settings = state.settings
        self._sessions: Sessions | None = None
        self._purged = time.monotonic()
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))

    @property
    def repo(self) -> Any:
        return self.state.repo

    @property
    def tokens(self) -> Any:
        return self.state.tokens

    @property
    def store(self) -> Any:
        return store_for(self.state.repo)

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = Sessions(self.store, self.settings)
        return self._sessions

    # -- URLs -------------------------------------------------------------------------------
    def origin(self, request: Request) -> str:
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"

    def fhir_base(self, request: Request) -> str:
        return self.origin(request) + "/fhir"

    def token_url(self, request: Request) -> str:
        return self.origin(request) + "/oauth2/token"

    def login_url(self, which: str) -> str:
        return f"/login/{which}" if self.settings.login_mode == "builtin" else f"/login/external/{which}"

    # -- requests and pages --------------------------------------------------------------------
    def form(self, request: Request) -> dict[str, str]:
        """The application/x-www-form-urlencoded body (all OAuth endpoints and our pages use
        it), read by the route before the handler ran; the last of repeated fields wins."""
        return request.scope["ehelse.form"]

    def body(self, request: Request) -> bytes:
        return request.scope["ehelse.body"]

    def purge_now_and_then(self) -> None:
        """Delete expired codes, refresh tokens, sessions and revocations; at most every
        ten minutes per process (any process may do it: the deletes are idempotent)."""
        now = time.monotonic()
        if now - self._purged > _PURGE_EVERY:
            self._purged = now
            self.store.purge_expired()

    def limit(self, request: Request, account: str | None) -> None:
        """Count one attempt for the account (per IP is counted by web/ratelimit.py)."""
        limiter = request.scope.get("ehelse.ratelimit")
        if limiter is not None and account and account.partition(":")[2]:
            limiter.hit("account " + account)

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = language(request)
        html = self.templates.get_template(template).render(
            request=request, t=texts(lang), lang=lang, csrf_input=lambda: csrf_input(request), **context)
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if request.query_params.get("lang") == lang:  # chosen by the link: remember it
            response.set_cookie("lang", lang, max_age=365 * 24 * 3600, path="/", samesite="lax", httponly=True,
                                secure=request.url.scheme == "https")
        return response

    def error_page(self, request: Request, what: str, status: int) -> HTMLResponse:
        return self.page(request, "error.html", status=status, what=what)

    def with_session(self, response: Response, request: Request, session: Session) -> Response:
        set_cookie(response, request, session)
        return response

    def read_patient(self, id: str) -> dict[str, Any] | None:
        version = self.repo.read("Patient", id)
        return orjson.loads(version.content) if version is not None and not version.deleted else None


def _route(server: OAuthServer, handler: Callable[[OAuthServer, Request], Response]) -> Callable:
    """An endpoint that reads the body on the event loop, then runs the (synchronous) handler
    in a worker thread: handlers touch the database and may fetch a JWKS or talk to an
    external issuer, which must not stall the FHIR requests sharing the loop."""

    async def endpoint(request: Request) -> Response:
        body = await request.body() if request.method == "POST" else b""
        request.scope["ehelse.body"] = body
        request.scope["ehelse.form"] = _parse_form(body)
        try:
            return await anyio.to_thread.run_sync(handler, server, request)
        except TooManyRequests as error:
            return _too_many(server, request, error)

    return endpoint


def _parse_form(body: bytes) -> dict[str, str]:
    if not body or len(body) > _MAX_FORM:
        return {}
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def _too_many(server: OAuthServer, request: Request, error: FhirError) -> Response:
    headers = {"Retry-After": "60"}
    if request.url.path.startswith("/login"):
        response = server.error_page(request, "rate_limited", status=429)
        response.headers.update(headers)
        return response
    return JSONResponse(error.outcome(), status_code=429, headers=headers, media_type="application/fhir+json")


def build(state: Any) -> tuple[OAuthServer, Any]:
    server = OAuthServer(state)
    r = lambda handler: _route(server, handler)  # noqa: E731
    routes = [
        Route("/oauth2/authorize", r(authorize.authorize), methods=["GET"]),
        Route("/oauth2/picker", r(authorize.picker), methods=["GET", "POST"]),
        Route("/oauth2/consent", r(authorize.consent), methods=["GET", "POST"]),
        Route("/oauth2/token", r(token_endpoint.token), methods=["POST"]),
        Route("/oauth2/introspect", r(endpoints.introspect), methods=["POST"]),
        Route("/oauth2/revoke", r(endpoints.revoke), methods=["POST"]),
        Route("/oauth2/register", r(endpoints.register), methods=["POST"]),
        Route("/oauth2/jwks", r(endpoints.jwks), methods=["GET"]),
        Route("/oauth2/userinfo", r(endpoints.userinfo), methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", r(endpoints.openid_configuration), methods=["GET"]),
        Route("/login/idporten", r(login.idporten), methods=["GET", "POST"]),
        Route("/login/helseid", r(login.helseid), methods=["GET", "POST"]),
        Route("/login/external/{which}", r(external.start), methods=["GET"]),
        Route("/login/callback", r(external.callback), methods=["GET", "POST"]),
        Route("/login/done", r(login.done), methods=["GET"]),
        Route("/login/logout", r(login.logout), methods=["POST"]),
        Mount("/oauth2/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    starlette = Starlette(routes=routes)
    return server, SessionContext(starlette, _LazySessions(server))


class _LazySessions:
    """Sessions made on first use, so building the app never touches the database."""

    def __init__(self, server: OAuthServer):
        self.server = server

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server.sessions, name)


def install(app: Any) -> OAuthServer:
    """Mount the authorisation server, logins and discovery on the ehelse ASGI app."""
    server, asgi = build(app.state)
    for prefix in ("/oauth2", "/login", "/.well-known"):
        app.mount(prefix, _FullPath(asgi))

    async def smart_configuration(state: Any, scope: dict, send: Any) -> None:
        response = endpoints.smart_configuration_endpoint(server, Request(scope))
        await response(scope, None, send)

    app._operations["/fhir/.well-known/smart-configuration"] = smart_configuration  # before /fhir, no token
    app.state.oauth = server
    return server


class _FullPath:
    """EhelseApp.mount sets root_path to the prefix; our routes name full paths, so undo it."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app({**scope, "root_path": ""}, receive, send)
