"""Fixtures of the router tests: `client` runs on every backend through the shared `repo`."""

from __future__ import annotations

import pytest

from router_client import RouterClient


@pytest.fixture
def client(repo) -> RouterClient:
    return RouterClient(repo)
