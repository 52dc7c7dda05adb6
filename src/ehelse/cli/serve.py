"""`ehelse serve`: run the HTTP server.

Every setting in ehelse.settings is an option here (and an EHELSE_ environment variable), so
`ehelse serve --help` lists them all. The options are set as environment variables before
the server starts, because each worker process builds its own app from the environment
(`create_app` as the server's factory).

The server: granian by default: it served the most reads by id in bench/web_stack.py (2 cores,
32 keep-alive clients; figures in docs/cli.md). uvicorn (with uvloop and httptools) stays
available with `--server uvicorn`.
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
from typing import Any, Optional

import typer

from ehelse.settings import SETTINGS, Setting, _bool, server_workers

APP_FACTORY = "ehelse.web.app:create_app"
SERVERS = ("granian", "uvicorn")
DEFAULT_SERVER = "granian"


def run_server(server: str, host: str, port: int, workers: int, log_level: str, shutdown_timeout: int) -> None:
    """Serve the app until SIGINT/SIGTERM; the server lets requests in flight finish (up to
    shutdown_timeout seconds), then the app's lifespan shutdown closes the database."""
    if server == "uvicorn":
        import uvicorn

        # uvicorn re-raises the signal that stopped it once it has shut down; with these
        # handlers that ends the process with status 0 (a clean stop) instead of -SIGTERM.
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, lambda *_: sys.exit(0))
        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, loop="uvloop",
                    http="httptools", access_log=False, log_level=log_level, lifespan="on",
                    timeout_graceful_shutdown=shutdown_timeout, proxy_headers=True)
        return
    from granian.constants import Interfaces
    from granian.server import Server

    Server(APP_FACTORY, address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True,
           log_enabled=True, log_level=log_level, log_access=False,
           workers_kill_timeout=shutdown_timeout).serve()


def _option(setting: Setting) -> inspect.Parameter:
    flag = "--" + setting.name.replace("_", "-")
    help_text = f"{setting.help} (env {setting.env}, default {setting.default!r})"
    if setting.cast is _bool:
        names = [f"{flag}/--no-{flag[2:]}"]
        annotation: Any = Optional[bool]
    else:
        # --database like every other command; --database-url for symmetry with the setting.
        names = ["--database", "-d", flag] if setting.name == "database_url" else [flag]
        annotation = Optional[int] if setting.cast is int else Optional[str]
    default = typer.Option(None, *names, help=help_text, show_default=False)
    return inspect.Parameter(setting.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _serve(server: str = DEFAULT_SERVER, **values: Any) -> None:
    from ehelse.settings import get_settings

    for setting in SETTINGS:
        value = values.get(setting.name)
        if value is not None:
            os.environ[setting.env] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    try:
        settings = get_settings()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if server not in SERVERS:
        raise typer.BadParameter(f"--server must be one of {', '.join(SERVERS)}")
    if settings.workers < 0:
        raise typer.BadParameter("--workers must be 0 (one per CPU) or more")
    workers = server_workers(settings)
    _print_where(settings, workers)
    run_server(server, settings.host, settings.port, workers, settings.log_level,
               settings.shutdown_timeout)


def serve(**values: Any) -> None:
    """Serve the FHIR API (/fhir), /healthz, /readyz and /metrics over HTTP."""
    _serve(**values)


serve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("server", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                       default=typer.Option(DEFAULT_SERVER, "--server",
                                            help=f"ASGI server: {' or '.join(SERVERS)}."))]
    + [_option(s) for s in SETTINGS])


def _print_where(settings: Any, workers: int) -> None:
    """Tell a newcomer where things are (to stderr; the JSON logs follow)."""
    from ehelse.cli.common import console

    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = (settings.base_url or f"http://{shown_host}:{settings.port}").rstrip("/")
    console.print(f"[bold]ehelse[/bold] on {base}  ({settings.database_url}, {workers} worker"
                  f"{'s' if workers != 1 else ''})", highlight=False)
    console.print(f"  FHIR API        {base}/fhir   (token: ehelse token --as admin)", highlight=False)
    console.print(f"  Innbygger       {base}/innbygger   (log in as a person in docs/demo-cast.md)", highlight=False)
    console.print(f"  Helsepersonell  {base}/helsepersonell", highlight=False)
    console.print(f"  Strategi        {base}/strategi", highlight=False)
