"""Fixtures for the authorisation server: the real app (real router, access rules) on a
fresh SQLite database holding a few people (oauth_flow.people), and an httpx client over
ASGI acting as the browser."""

from __future__ import annotations

import httpx
import pytest
from oauth_flow import BASE, REDIRECT, make_settings, people

from ehelse.oauth import clients
from ehelse.oauth.store import store_for
from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.web.app import create_app


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'oauth.sqlite'}"


@pytest.fixture
def repo(db_url):
    repo = open_repository(db_url, sqlite_readers=2)
    for resource in people():
        repo.create(resource, id=resource["id"])
    yield repo
    repo.close()


@pytest.fixture
def settings(db_url) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def app(settings, repo):
    return create_app(settings, repo)


@pytest.fixture
def store(repo):
    return store_for(repo)


@pytest.fixture
async def browser(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def public_client(store):
    client, _ = clients.register(
        store, name="Testapp", redirect_uris=[REDIRECT], client_id="testapp",
        scope="openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.rs")
    return client


