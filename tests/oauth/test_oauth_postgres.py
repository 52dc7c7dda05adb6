"""The whole authorisation code flow on PostgreSQL (the other tests run on SQLite)."""

from __future__ import annotations

import httpx
import pytest
from oauth_flow import BASE, REDIRECT, authorize_citizen, exchange, introspect, make_settings, people

from ehelse.oauth import clients
from ehelse.oauth.store import store_for
from ehelse.storage import open_repository
from ehelse.web.app import create_app

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_flow_refresh_and_revocation_on_postgres(pg_url):
    repo = open_repository(pg_url, db_pool_size=4)
    try:
        repo.upgrade()
        for resource in people():
            repo.create(resource, id=resource["id"])
        clients.register(store_for(repo), name="t", redirect_uris=[REDIRECT], client_id="testapp",
                         scope="openid fhirUser offline_access patient/*.rs")
        app = create_app(make_settings(pg_url), repo)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as browser:
            code, verifier = await authorize_citizen(browser)
            body = (await exchange(browser, code, verifier)).json()
            assert (await introspect(browser, body["access_token"], body["access_token"]))["patient"] == "demo-kari"
            assert (await exchange(browser, code, verifier)).status_code == 400  # replay
            r = await browser.get("/fhir/Patient/demo-kari", headers={"Authorization": f"Bearer {body['access_token']}"})
            assert r.status_code == 401  # revoked by the replay
    finally:
        repo.close()
