"""One seeded SQLite world per test session (tests/access/world.py)."""

from __future__ import annotations

import pytest

from ehelse.storage import open_repository

from access_world import build  # noqa: E402  (pytest puts this folder on sys.path)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("access") / "world.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    repo.upgrade()
    people = build(repo)
    yield repo, people
    repo.close()
