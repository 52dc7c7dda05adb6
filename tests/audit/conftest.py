"""Fixtures of the audit tests."""

from __future__ import annotations

import pytest

from ehelse.storage import open_repository


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_repo(request, tmp_path):
    """An upgraded repository of each backend (the trail's SQL differs: executemany or COPY)."""
    if request.param == "sqlite":
        repository = open_repository(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    else:
        repository = open_repository(request.getfixturevalue("pg_url"))
    repository.upgrade()
    yield repository
    repository.close()
