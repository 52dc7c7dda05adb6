"""Fixtures every part of the test suite shares (keep their names and meaning stable).

- `shared_dir`: Path of ../shared (the team's reference data), or the test is skipped;
  the project must work without it (DESIGN.md).
- `pg_url`: a PostgreSQL URL whose search_path is a fresh, empty schema made for the test
  module and dropped after it; not upgraded. From EHELSE_TEST_DATABASE_URL (default
  postgresql://postgres@127.0.0.1:5432/test). No PostgreSQL: skip, or fail when CI=true.
- `sqlite_url`: a fresh SQLite URL in the test's tmp dir; the file does not exist yet.
- `repo`: an upgraded, empty Repository, once per backend: memory, sqlite, postgres.
  PostgreSQL shares one upgraded schema per session (per xdist worker) and empties its
  tables before each test, which keeps the suite fast and the tests isolated.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from testsupport import DEFAULT_TEST_DATABASE_URL, REPO_ROOT, pg_base_url, schema_url, shared_path  # noqa: F401

@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if path is None:
        pytest.skip("../shared (reference data) is not present")
    return path


# -- PostgreSQL ----------------------------------------------------------------------------
def _pg_admin():
    """An autocommit connection to the test database, or skip/fail when there is none."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(pg_base_url(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {pg_base_url()} is unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


class _Schemas:
    """Makes uniquely named schemas and drops them again."""

    def __init__(self) -> None:
        self.admin = _pg_admin()
        # a test that leaks an open transaction makes TRUNCATE/DROP fail, not hang the run
        self.admin.execute("SET lock_timeout = '20s'")

    def create(self) -> str:
        name = f"ehelse_test_{os.getpid()}_{secrets.token_hex(4)}"
        self.admin.execute(f'CREATE SCHEMA "{name}"')
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def empty_tables(self, name: str) -> None:
        tables = [row[0] for row in self.admin.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'schema_version'",
            (name,))]
        if tables:
            # DELETE, not TRUNCATE: on the few rows a test writes it is several times faster
            # (TRUNCATE makes new files for every table and index)
            self.admin.execute("; ".join(f'DELETE FROM "{name}"."{t}"' for t in tables))


@pytest.fixture(scope="session")
def _pg_schemas():
    schemas = _Schemas()
    yield schemas
    schemas.admin.close()


@pytest.fixture(scope="module")
def pg_url(_pg_schemas) -> str:
    name = _pg_schemas.create()
    yield schema_url(pg_base_url(), name)
    _pg_schemas.drop(name)


@pytest.fixture(scope="session")
def _pg_repo_schema(_pg_schemas) -> str:
    """One upgraded schema for the `repo` fixture, for the whole session."""
    from ehelse.storage.postgres import PostgresRepository

    name = _pg_schemas.create()
    repo = PostgresRepository(schema_url(pg_base_url(), name), db_pool_size=1)
    repo.upgrade()
    repo.close()
    yield name
    _pg_schemas.drop(name)


# -- SQLite and the parametrised repository ---------------------------------------------------
@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ehelse.sqlite'}"  # tmp_path is absolute: sqlite:////tmp/...


@pytest.fixture
def sqlite_repo(sqlite_url):
    """An upgraded, empty SQLite repository at sqlite_url."""
    from ehelse.storage import open_repository

    repository = open_repository(sqlite_url)
    repository.upgrade()
    yield repository
    repository.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request, tmp_path):
    from ehelse.storage import open_repository

    if request.param == "memory":
        repository = open_repository("memory://")
    elif request.param == "sqlite":
        repository = open_repository(f"sqlite:///{tmp_path / 'repo.sqlite'}")
    else:
        schemas = request.getfixturevalue("_pg_schemas")
        name = request.getfixturevalue("_pg_repo_schema")
        schemas.empty_tables(name)
        repository = open_repository(schema_url(pg_base_url(), name), db_pool_size=4)
    yield repository
    repository.close()
