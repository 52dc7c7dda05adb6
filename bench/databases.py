"""A fresh, empty database for each benchmark run, and its removal afterwards.

SQLite: a new file in a temporary directory. PostgreSQL: a new schema in the shared `test`
database, selected through the libpq `options=-csearch_path=...` URL parameter, which the
storage backend passes on to psycopg (every connection then works in that schema only).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

BACKENDS = ("sqlite", "postgresql")


def postgres_base_url() -> str:
    return os.environ.get("EHELSE_BENCH_POSTGRES_URL") or os.environ.get(
        "EHELSE_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not (the benchmark records it and skips)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(postgres_base_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means: skip PostgreSQL, say why
        return f"PostgreSQL unreachable at {postgres_base_url()}: {exc.__class__.__name__}"
    return None


def _with_search_path(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@contextmanager
def fresh_database(backend: str, *, label: str = "bench") -> Iterator[str]:
    """Yield the URL of a new empty database of that backend; remove it on exit."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix=f"ehelse-{label}-")
        try:
            yield f"sqlite:///{directory}/ehelse.sqlite"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    elif backend == "postgresql":
        import psycopg

        base = postgres_base_url()
        schema = f"bench_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield _with_search_path(base, schema)
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    else:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
