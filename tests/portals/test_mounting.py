"""portals/ui/mounting.py portal_starlette: a page that fails is answered with a page. The
database unable to take the request (storage/unavailable.py) is the 503 page with
Retry-After; anything else the 500 page, which names the request id and nothing of the
exception; both reach the middleware's log (web/middleware.py), bokmål first."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import httpx
from starlette.routing import Route

from ehelse.portals.ui.mounting import portal_starlette
from ehelse.web.metrics import Metrics
from ehelse.web.middleware import RequestContext


def _app():
    def locked(request):
        raise sqlite3.OperationalError("database is locked")

    def bug(request):
        raise RuntimeError("secret detail of the bug")

    return RequestContext(portal_starlette([Route("/locked", locked), Route("/bug", bug)]), Metrics())


def _get(app, path):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            return await client.get(path, headers={"Accept": "text/html"})

    return asyncio.run(go())


def test_a_database_that_cannot_take_it_is_the_503_page(caplog):
    with caplog.at_level(logging.WARNING, logger="ehelse"):
        page = _get(_app(), "/locked")
    assert page.status_code == 503 and page.headers["retry-after"].isdigit()
    assert page.headers["content-type"].startswith("text/html") and '<html lang="nb">' in page.text
    assert "midlertidig utilgjengelig" in page.text and "temporarily unavailable" in page.text
    assert any("database unavailable in GET /locked" in r.getMessage() for r in caplog.records)


def test_a_bug_is_the_500_page_with_the_request_id_and_nothing_of_the_exception(caplog):
    with caplog.at_level(logging.ERROR, logger="ehelse"):
        page = _get(_app(), "/bug")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Noe gikk galt" in page.text and page.headers["x-request-id"] in page.text
    assert "secret" not in page.text and "RuntimeError" not in page.text
    assert any("unhandled error in GET /bug" in r.getMessage() for r in caplog.records)
