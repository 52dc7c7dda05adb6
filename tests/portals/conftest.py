"""Fixtures of the portal tests.

    portal_db     a SQLite database seeded ONCE per test session (20 patients: the demo cast
                  and a few neighbours), closed so it can be copied
    live_server   a real server (uvicorn, in a subprocess on a free loopback port) on a copy
                  of portal_db per test module, so modules that write do not see each other
    portal_repo   the copy's repository, opened in the test process (tokens, API checks)
    browser       Debian chromium through Playwright (skips cleanly without it; browser.py)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from portals import browser as browser_helpers
from testsupport import copy_db, start_uvicorn, stop_process

SEED_PATIENTS = 20
SEED = 1


@pytest.fixture(scope="session")
def portal_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ehelse.nobasis.seed import seed
    from ehelse.storage import open_repository

    path = tmp_path_factory.mktemp("portal-seed") / "seed.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    try:
        seed(repo, patients=SEED_PATIENTS, seed=SEED, validate_every=0)
    finally:
        repo.close()  # checkpoints the WAL: the one file is the whole database
    return path


class LiveServer:
    def __init__(self, url: str, database_url: str, process: subprocess.Popen):
        self.url = url
        self.database_url = database_url
        self.process = process

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="module")
def live_server(portal_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = copy_db(portal_db, tmp_path_factory.mktemp("portal-live"))
    database_url = f"sqlite:///{path}"
    url, process = start_uvicorn({"EHELSE_DATABASE_URL": database_url})
    yield LiveServer(url, database_url, process)
    stop_process(process)


@pytest.fixture(scope="module")
def portal_repo(live_server: LiveServer) -> Iterator[Any]:
    from ehelse.storage import open_repository

    repo = open_repository(live_server.database_url)
    yield repo
    repo.close()


def api_token(repo: Any, actor: str, **options: Any) -> str:
    """A bearer token for the live server's FHIR API (the keys live in its database)."""
    from ehelse.access.tokens import TokenService
    from ehelse.settings import Settings

    return TokenService(Settings.from_env(database_url=repo.url), repo).issue(actor, **options)


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this
# thread until it stops, and a later anyio/asyncio test module on the same xdist worker would
# then fail with "Cannot run the event loop while another loop is running".
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    why = browser_helpers.unavailable()
    if why and os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {why}")  # .ci/run installs chromium
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    chromium = browser_helpers.launch(playwright_driver)
    yield chromium
    chromium.close()
