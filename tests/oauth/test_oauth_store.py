"""The authorisation server's records on every backend: memory, SQLite, PostgreSQL. A
code or refresh token is taken exactly once, even by racing threads."""

from __future__ import annotations

import threading
import time

import pytest

from ehelse.oauth.store import MemoryStore, RevocationList, SqlStore, store_for
from ehelse.storage import open_repository


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        repo = open_repository(f"sqlite:///{tmp_path / 'store.sqlite'}", sqlite_readers=2)
    else:
        repo = open_repository(request.getfixturevalue("pg_url"), db_pool_size=4)
        repo.upgrade()
        for table in ("oauth_record", "revoked_token"):
            with repo._writing() as conn:
                repo._exec(conn, f"DELETE FROM {table}")
    yield store_for(repo)
    repo.close()


def test_put_get_update_delete_list(store):
    store.put("client", "a", {"n": 1})
    store.put("client", "b", {"n": 2})
    assert store.get("client", "a") == ({"n": 1}, False)
    store.update("client", "a", {"n": 3})
    assert store.get("client", "a") == ({"n": 3}, False)
    assert [key for key, _ in store.list("client")] == ["a", "b"]
    assert store.delete("client", "a") is True and store.delete("client", "a") is False
    assert store.get("client", "a") is None


def test_expired_is_gone(store):
    store.put("code", "x", {"n": 1}, expires=time.time() - 1)
    assert store.get("code", "x") is None and store.take("code", "x") is None


def test_take_once_and_update_keeps_used(store):
    store.put("code", "c", {"n": 1}, expires=time.time() + 60)
    assert store.take("code", "c") == {"n": 1}
    assert store.take("code", "c") is None
    store.update("code", "c", {"n": 2})
    assert store.get("code", "c") == ({"n": 2}, True)


def test_add_refuses_a_live_duplicate(store):
    assert store.add("assertion", "j", {}, expires=time.time() + 60) is True
    assert store.add("assertion", "j", {}, expires=time.time() + 60) is False
    store.put("assertion", "old", {}, expires=time.time() - 1)
    assert store.add("assertion", "old", {}, expires=time.time() + 60) is True


def test_racing_takes_one_winner(store):
    store.put("code", "race", {"n": 1}, expires=time.time() + 60)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.take("code", "race"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_revocation_list(store):
    revocations = RevocationList(store, interval=0.0)
    assert not revocations.is_revoked("j1")
    store.revoke_jti("j1", time.time() + 60)
    assert revocations.is_revoked("j1") and not revocations.is_revoked("j2")
    assert not revocations.is_revoked(None)


def test_sql_store_is_used_for_sql_repositories(tmp_path):
    repo = open_repository(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        assert isinstance(store_for(repo), SqlStore) and store_for(repo) is store_for(repo)
    finally:
        repo.close()
