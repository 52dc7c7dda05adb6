"""One seeded SQLite world per test session (tests/access/world.py), and an HTTP client on
the app over it (the rules through `/fhir`)."""

from __future__ import annotations

import httpx
import pytest

from ehelse.settings import Settings
from ehelse.storage import open_repository
from ehelse.web.app import create_app

from access_world import build  # noqa: E402  (pytest puts this folder on sys.path)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("access") / "world.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    repo.upgrade()
    people = build(repo)
    yield repo, people
    repo.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def http(world):
    """(client, the app's token service, the world's repository) over ASGI."""
    repo, _ = world
    app = create_app(Settings.from_env({}, log_level="warning", validate=False), repo)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, app.state.tokens, repo
