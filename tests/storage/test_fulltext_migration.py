"""Migration 0009 (full-text indexes): a database written before it is searchable by full
text after `upgrade()`, with the rows it already had, on both backends."""

from __future__ import annotations

import pytest

from ehelse.storage import migrations
from ehelse.storage.protocol import SearchParam, SearchQuery
from ehelse.storage.stamp import now_instant

BEFORE = 8  # the last version without the full-text indexes


def _at_version(repo, version: int) -> None:
    """The schema as `upgrade()` left it when `version` was the latest migration."""
    with repo._writing() as conn:
        repo._exec(conn, migrations.SCHEMA_VERSION_TABLE)
        for migration in migrations.migrations(repo.backend)[:version]:
            for statement in migration.statements():
                repo._exec(conn, statement)
            repo._exec(conn, "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                       (migration.version, migration.name, now_instant()))


def _narrative(text: str) -> dict:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_repo(request, tmp_path):
    if request.param == "sqlite":
        from ehelse.storage.sqlite import SqliteRepository

        repo = SqliteRepository(f"sqlite:///{tmp_path / 'old.sqlite'}", create=False)
    else:
        from ehelse.storage.postgres import PostgresRepository

        repo = PostgresRepository(request.getfixturevalue("pg_url"), db_pool_size=2)
    _at_version(repo, BEFORE)
    yield repo
    repo.close()


def test_rows_written_before_the_migration_are_found_after_it(old_repo):
    repo = old_repo
    assert repo.schema_version() == BEFORE
    with repo.transaction():
        repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": _narrative("Blodtrykket er høyt"), "note": [{"text": "Kontroll hos Østby"}]})
        repo.update({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
                     "text": _narrative("Astma")})
        repo.update({"resourceType": "Condition", "id": "c3", "subject": {"reference": "Patient/p1"},
                     "text": _narrative("Blodtrykk")})
    repo.delete("Condition", "c3")
    assert repo.upgrade() == migrations.latest(repo.backend) - BEFORE
    assert repo.migrations_current()

    def found(code: str, value: str) -> list[str]:
        page = repo.search("Condition", SearchQuery(params=[SearchParam(code, None, (value,))], count=50))
        return sorted(v.id for v in page.entries)

    assert found("_text", "blodtrykk") == ["c1"]
    assert found("_content", "ostby") == ["c1"]
    assert found("_text", "astma") == ["c2"]
    # and the index goes on following writes
    repo.update({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
                 "text": _narrative("Migrene")})
    assert found("_text", "astma") == []
    assert found("_text", "migrene") == ["c2"]
    if repo.backend == "sqlite":
        with repo._writing() as conn:
            repo._exec(conn, "INSERT INTO text_fts (text_fts) VALUES ('integrity-check')")
