"""Backup, then restore into a fresh database: every resource, version and key is there."""

from __future__ import annotations

import secrets

import pytest

from testsupport import pg_base_url, schema_url
from ehelse.storage import open_repository
from ehelse.storage.backup import backup, restore


def _fill(repo) -> None:
    with repo.transaction():
        for n in range(30):
            repo.create({"resourceType": "Patient", "identifier": [{"system": "urn:b", "value": str(n)}]},
                        id=f"p{n}")
    for n in range(0, 30, 3):
        repo.update({"resourceType": "Patient", "id": f"p{n}", "active": True})
    repo.delete("Patient", "p1")
    repo.create({"resourceType": "Observation", "valueQuantity": {"value": 1.5}}, id="o1")
    repo.add_signing_key({"kid": "k1", "kty": "oct", "k": "c2VjcmV0"})


def _everything(repo):
    """Every version (content included) and the keys."""
    history = repo.history(count=10_000)
    return sorted(history.entries, key=lambda v: (v.type, v.id, v.version_id)), repo.signing_keys()


def _assert_same(original, restored) -> None:
    versions, keys = _everything(original)
    assert len(versions) == 42  # 31 creates, 10 updates, 1 delete
    assert _everything(restored) == (versions, keys)
    assert restored.read("Patient", "p1").deleted
    assert [v.id for v in restored.search("Patient", _identifier("urn:b|4")).entries] == ["p4"]
    assert restored.migrations_current()


def _identifier(value):
    from ehelse.storage.protocol import SearchParam, SearchQuery

    return SearchQuery([SearchParam("identifier", None, (value,))])


def test_sqlite_backup_and_restore(tmp_path):
    source = open_repository(f"sqlite:///{tmp_path / 'source.sqlite'}")
    _fill(source)
    # Backup while the source is open (the online backup API)
    path = backup(source.url, tmp_path / "backups" / "ehelse.backup")
    assert path.is_file()
    target_url = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    restore(path, target_url)
    restored = open_repository(target_url)
    try:
        _assert_same(source, restored)
        restored.create({"resourceType": "Patient"}, id="after-restore")  # writable
        with pytest.raises(ValueError):
            restore(path, target_url)  # never into a database with data
    finally:
        restored.close()
        source.close()


def test_sqlite_restore_of_missing_backup(tmp_path):
    with pytest.raises(FileNotFoundError):
        restore(tmp_path / "nothing", f"sqlite:///{tmp_path / 'x.sqlite'}")


@pytest.fixture
def fresh_pg_database(_pg_schemas):
    """A new, empty database beside the test database, dropped afterwards."""
    name = f"ehelse_restore_{secrets.token_hex(4)}"
    _pg_schemas.admin.execute(f'CREATE DATABASE "{name}"')
    base = pg_base_url().split("?")[0].rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _pg_schemas.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow  # a database created and dropped: seconds on a busy machine
@pytest.mark.postgres
@pytest.mark.parametrize("into_schema", [False, True], ids=["same-schema", "named-schema"])
def test_postgres_backup_and_restore(pg_url, fresh_pg_database, tmp_path, into_schema):
    source = open_repository(pg_url, db_pool_size=2)
    source.upgrade()
    if not source.history(count=1).total:
        _fill(source)
    path = backup(pg_url, tmp_path / "ehelse.dump")
    target_url = schema_url(fresh_pg_database, "restored") if into_schema else fresh_pg_database
    restore(path, target_url)
    if not into_schema:  # the backup's own schema name, in the new database
        from ehelse.storage.postgres import url_schema

        target_url = schema_url(fresh_pg_database, url_schema(pg_url))
    restored = open_repository(target_url, db_pool_size=2)
    try:
        _assert_same(source, restored)
        restored.create({"resourceType": "Patient"}, id="after-restore")
        assert [k["kid"] for k in restored.signing_keys()] == ["k1"]
        with pytest.raises(ValueError):
            restore(path, target_url)
    finally:
        restored.close()
        source.close()
