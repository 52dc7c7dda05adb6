"""/static: our stylesheet and the front-end packages from node_modules, never a CDN.

    /static/ui/...          src/ehelse/portals/ui/static (ehelse.css, small scripts)
    /static/ds/css/...      @digdir/designsystemet-css dist/src (index.css: the components)
    /static/ds/theme/...    @digdir/designsystemet-theme brand (digdir.css: the colours, fonts)
    /static/htmx/...        htmx.org dist (htmx.min.js)

node_modules is installed by `make install` (`npm ci`, package.json at the repo root; the
README names Node.js 20 as a prerequisite). `EHELSE_NODE_MODULES` points elsewhere (a
packaged install); a missing package is a 404 for its files, not a failure to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from ehelse.portals.ui.mounting import FullPath

HERE = Path(__file__).parent
PACKAGES = {
    "ds/css": "@digdir/designsystemet-css/dist/src",
    "ds/theme": "@digdir/designsystemet-theme/brand",
    "htmx": "htmx.org/dist",
}


def node_modules() -> Path:
    configured = os.environ.get("EHELSE_NODE_MODULES")
    if configured:
        return Path(configured)
    repo_root = Path(__file__).resolve().parents[4]  # src/ehelse/portals/ui/static.py
    return repo_root / "node_modules"


class _Cached(StaticFiles):
    """Static files with a day's caching: the names change with the package versions."""

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def static_app() -> Starlette:
    modules = node_modules()
    routes = [Mount("/static/ui", _Cached(directory=HERE / "static"))]
    routes += [Mount(f"/static/{prefix}", _Cached(directory=modules / path, check_dir=False))
               for prefix, path in PACKAGES.items()]
    return Starlette(routes=routes)


def install_static(app: Any) -> None:
    """Mount /static on the ehelse ASGI app (web/app.py)."""
    app.mount("/static", FullPath(static_app()))


