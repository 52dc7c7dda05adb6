"""The ASGI application: `create_app(settings=None, repo=None)`.

    RequestContext (request id, security headers, access log, metrics, last-resort 500)
     Cors, RateLimit (web/hardening.py, web/ratelimit.py)
      BodyLimit (413 past max_body_bytes)
        /fhir/...   FhirEndpoint -> Router(settings).handle(request, repo)
        /healthz /readyz /metrics
        mounted apps (`app.mount("/oauth2", asgi_app)`: the trust issue, the portals)

Servers load it as a factory: `uvicorn --factory ehelse.web.app:create_app` or
`granian --interface asgi --factory ehelse.web.app:create_app` (what `ehelse serve` does).
Each server process builds its own app, opens its own connections and keeps nothing another
process needs: any number of them can serve one PostgreSQL database behind a load balancer.
"""

from __future__ import annotations

import gc
import logging

from typing import Any, Awaitable, Callable

from ehelse.errors import MethodNotAllowed, NotFound, NotImplementedFhir
from ehelse.settings import Settings, get_settings
from ehelse.web import logs, operations
from ehelse.oauth.app import install as install_oauth
from ehelse.portals.citizen.app import install as install_citizen
from ehelse.portals.clinician.app import install as install_clinician
from ehelse.portals.ui.static import install_static
from ehelse.bulk.app import install as install_bulk
from ehelse.portals.strategy.app import install as install_strategy
from ehelse.portals.healthdata.app import install as install_healthdata
from ehelse.portals.audit.app import install as install_audit
from ehelse.web.fhir import FhirEndpoint
from ehelse.web.metrics import Metrics
from ehelse.web.hardening import Cors
from ehelse.web.middleware import BodyLimit, RequestContext
from ehelse.web.ratelimit import RateLimit
from ehelse.web.responses import send_error

ASGIApp = Callable[[dict, Any, Any], Awaitable[None]]


class AppState:
    """What the routes share within one process. The repository, token service and router
    are made on first use, so building the app never touches the database."""

    def __init__(self, settings: Settings, repo: Any = None, router: Any = None):
        self.settings = settings
        self.metrics = Metrics()
        self._repo = repo
        self.owns_repo = repo is None  # close only what we opened
        self._router = router
        self._tokens = None
        self._repo_options: dict[str, Any] = {}  # extra backend options (tests: connect_timeout)
        if repo is not None:
            from ehelse.audit.trail import trail_for

            self.metrics.audit_trail = trail_for(repo)

    @property
    def repo(self) -> Any:
        if self._repo is None:
            from ehelse.storage import open_repository

            self._repo = open_repository(self.settings.database_url, db_pool_size=self.settings.db_pool_size,
                                         sqlite_readers=self.settings.sqlite_readers, **self._repo_options)
            self.metrics.pool_stats = _pool_stats(self._repo)
            from ehelse.audit.trail import trail_for

            self.metrics.audit_trail = trail_for(self._repo)
            _load_installed_guides(self._repo)
        return self._repo

    @property
    def tokens(self) -> Any:
        if self._tokens is None:
            from ehelse.access.tokens import TokenService

            self._tokens = TokenService(self.settings, self.repo)
        return self._tokens

    @property
    def router(self) -> Any:
        if self._router is None:
            try:
                from ehelse.fhir.router import Router
            except ImportError:
                raise NotImplementedFhir("The FHIR router is not installed in this build") from None
            self._router = Router(self.settings)
        return self._router

    def close(self) -> None:
        if self.owns_repo and self._repo is not None:
            self._repo.close()
            self._repo = None


def _pool_stats(repo: Any) -> Callable[[], dict[str, Any]] | None:
    """The backend's connection pool figures for /metrics: `repo.pool_stats()` when the
    backend offers it, else psycopg_pool's own `get_stats()` (pool_size, pool_available,
    requests_waiting, ...) on the PostgreSQL backend's pool."""
    if callable(getattr(repo, "pool_stats", None)):
        return repo.pool_stats
    pool = getattr(repo, "_pool", None)
    return pool.get_stats if callable(getattr(pool, "get_stats", None)) else None


# Python's full (generation 2) collection walks every object the collector tracks: after the
# first pages ~120,000 that live as long as the process (definitions, the search registry,
# templates), 50-60 ms of CPU and 160-200 ms of wall time per collection with the GIL held,
# so every thread of the process stalled, once per ~75 clinician summaries (issue 8's p99;
# N=10,000, in process). gc.freeze() (https://docs.python.org/3/library/gc.html#gc.freeze)
# moves what exists now out of the collector's sight: at startup, and after the requests
# that load what is loaded lazily; reference counting still frees all of it as before.
_FREEZE_AFTER = (100, 1000)


def _freeze() -> None:
    """Collect first, then freeze: what is garbage now is freed instead of being kept for
    the life of the process (a one-off collection at each of the three freeze points)."""
    gc.collect()
    gc.freeze()


class EhelseApp:
    """The whole server as one ASGI callable. Dispatch is by path prefix: a dictionary
    look-up and a few string tests, so a FHIR read pays almost nothing for routing."""

    def __init__(self, state: AppState):
        self.state = state
        self.fhir = FhirEndpoint(state)
        self.mounts: list[tuple[str, ASGIApp]] = []
        self._served = 0  # requests, on the event loop's thread (for _FREEZE_AFTER)
        self._operations: dict[str, Callable[..., Awaitable[None]]] = {
            "/healthz": operations.healthz, "/readyz": operations.readyz}
        if state.settings.metrics:
            self._operations["/metrics"] = operations.metrics
        settings = state.settings
        self._stack = RequestContext(Cors(RateLimit(BodyLimit(self._dispatch, settings.max_body_bytes), settings),
                                          settings), state.metrics, str(settings.base_url).startswith("https://"))

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Serve `app` under `prefix` (e.g. "/oauth2"). It gets the full path with `root_path`
        set to the prefix, as Starlette's Mount does."""
        self.mounts.append((prefix.rstrip("/"), app))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            self._served += 1
            if self._served in _FREEZE_AFTER:
                _freeze()
            await self._stack(scope, receive, send)

    async def _dispatch(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no websockets here
        path = scope["path"]
        operation = self._operations.get(path)  # before /fhir: SMART discovery lives under it
        if operation is not None:
            if scope["method"] not in ("GET", "HEAD"):
                await send_error(send, MethodNotAllowed(f"{path} answers GET only"), headers=[(b"allow", b"GET, HEAD")])
                return
            await operation(self.state, scope, send)
            return
        if path == "/fhir" or path.startswith("/fhir/"):
            await self.fhir(scope, receive, send)
            return
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await app({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send)
                return
        await send_error(send, NotFound(f"Nothing at {path}; the FHIR API is at /fhir"))

    async def _lifespan(self, receive: Any, send: Any) -> None:
        # Startup opens the database so the first request does not pay for it; a database
        # that is down does not stop the process (/readyz says so until it comes back).
        # Shutdown (after the server has let requests in flight finish) closes it.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                logs.configure(self.state.settings.log_level, self.state.settings.log_format)
                try:
                    self.state.repo
                except Exception as exc:
                    logs.log.error("database not reachable at startup: %s", type(exc).__name__)
                _freeze()  # see _FREEZE_AFTER
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.state.close()
                logs.log.info("shut down cleanly")
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: Settings | None = None, repo: Any = None, router: Any = None) -> EhelseApp:
    """The ASGI app. `repo`: an open Repository (the caller closes it) or None to open
    `settings.database_url` on first use. `router`: for tests of the web layer alone."""
    app = EhelseApp(AppState(settings or get_settings(), repo, router))
    install_oauth(app)  # /oauth2, /login, discovery: the authorisation server (src/ehelse/oauth)
    install_static(app)  # /static: portal CSS, Designsystemet and htmx from node_modules (portals/ui)
    install_citizen(app)  # /innbygger: the citizen portal (portals/citizen)
    install_clinician(app)  # /helsepersonell: the clinician workspace (portals/clinician)
    install_bulk(app)  # /bulk: Bulk Data export status and files, and the export worker (bulk/)
    install_strategy(app)  # /strategi: the strategy's goals, roadmap and live indicators (portals/strategy)
    install_healthdata(app)  # /helsedata: analysts run ViewDefinitions and download the result (portals/healthdata)
    install_audit(app)  # /revisjon: the privacy officer's review (portals/audit)
    return app


def _load_installed_guides(repo: Any) -> None:
    """Register the implementation guides installed with `ehelse ig install` in the validator
    (they live in the database, so every server process sees the same ones after a start)."""
    from ehelse.fhir.ig import load_installed

    try:
        load_installed(repo)
    except Exception:  # an unreachable database: /readyz reports it; writes fail on their own
        logging.getLogger("ehelse").warning("could not load installed implementation guides", exc_info=True)
