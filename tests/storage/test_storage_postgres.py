"""What only the PostgreSQL backend does: schemas in URLs, upgrade, several processes."""

from __future__ import annotations

import threading

import pytest

from testsupport import pg_base_url
from ehelse.errors import Conflict, PreconditionFailed
from ehelse.storage import migrations
from ehelse.storage.postgres import PostgresRepository, url_schema, with_schema

pytestmark = pytest.mark.postgres


def test_schema_in_urls():
    assert url_schema("postgresql://u@h/db?options=-csearch_path%3Dmine") == "mine"
    assert url_schema("postgresql://u@h/db?options=-c%20search_path%3Da,public") == "a"
    assert url_schema("postgresql://u@h/db") is None
    assert url_schema(with_schema("postgresql://u@h/db?options=-csearch_path%3Dold", "new")) == "new"


def test_schema_option_and_upgrade(_pg_schemas):
    name = _pg_schemas.create()
    try:
        repo = PostgresRepository(pg_base_url(), schema=name, db_pool_size=2)
        assert repo.schema == name
        assert repo.schema_version() == 0 and not repo.migrations_current()
        assert repo.upgrade() == migrations.latest("postgres")
        assert repo.upgrade() == 0 and repo.migrations_current()
        repo.create({"resourceType": "Patient"}, id="here")
        row = _pg_schemas.admin.execute(f'SELECT version_id FROM "{name}".resource WHERE id = %s',
                                        ("here",)).fetchone()
        assert row == (1,)
        assert repo.pool_stats()["pool_max"] == 2
        repo.close()
    finally:
        _pg_schemas.drop(name)


def test_concurrent_upgrades_apply_each_migration_once(_pg_schemas):
    name = _pg_schemas.create()
    repos = [PostgresRepository(pg_base_url(), schema=name, db_pool_size=1) for _ in range(3)]
    applied, errors = [], []
    barrier = threading.Barrier(len(repos))

    def upgrade(repo):
        barrier.wait()
        try:
            applied.append(repo.upgrade())
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(r,)) for r in repos]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and sorted(applied) == [0, 0, migrations.latest("postgres")]
    finally:
        for repo in repos:
            repo.close()
        _pg_schemas.drop(name)


@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_two_servers_share_everything(repo):
    other = PostgresRepository(repo.url, db_pool_size=2)  # as another `serve` process would
    try:
        repo.create({"resourceType": "Patient"}, id="shared")
        assert other.read("Patient", "shared").version_id == 1
        other.update({"resourceType": "Patient", "id": "shared"}, if_match=1)
        with pytest.raises(PreconditionFailed):
            repo.update({"resourceType": "Patient", "id": "shared"}, if_match=1)
        other.add_signing_key({"kid": "k"})
        assert repo.signing_keys() == [{"kid": "k"}]
    finally:
        other.close()


@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_deadlocked_transactions_become_conflict(repo):
    for id in ("a", "b"):
        repo.create({"resourceType": "Patient"}, id=id)
    barrier = threading.Barrier(2)
    outcomes = []

    def cross(first, second):
        try:
            with repo.transaction():
                repo.update({"resourceType": "Patient", "id": first})
                barrier.wait(10)
                repo.update({"resourceType": "Patient", "id": second})
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=cross, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "ok"]
    # the loser left nothing behind: each resource has exactly the winner's version
    assert repo.read("Patient", "a").version_id == 2 and repo.read("Patient", "b").version_id == 2
