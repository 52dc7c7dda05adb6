"""Fixtures of the search tests. `sql_repo`: the shared `repo` on SQLite and PostgreSQL (the
in-memory fake searches through the reference evaluator, type-level only: no chains,
includes, compartments or paging tokens, so those tests skip it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def sql_repo(repo):
    if repo.url.startswith("memory"):
        pytest.skip("the in-memory fake has no chains, includes, compartments or page tokens")
    return repo
