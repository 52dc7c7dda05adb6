"""What only the PostgreSQL backend does: schemas in URLs, upgrade, several processes."""

from __future__ import annotations

import threading
from contextlib import ExitStack

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


def test_index_rows_of_a_transaction_go_in_one_statement_per_table(_pg_schemas):
    """_flush_index sends each table's buffered rows as one JSON array (postgres/repository.py):
    numbers of any Python kind land as the same doubles, NULLs stay NULL, text round-trips
    (quotes, backslashes, non-ASCII), and what the database cannot hold is a 400, not a 500."""
    from decimal import Decimal

    from ehelse.errors import BadRequest
    from ehelse.storage.index import IndexRow

    rows = [IndexRow("number_index", "n", (1, Decimal("2.50"), 3.25, None)),
            IndexRow("number_index", "n", (Decimal("1E+2"), 99.5, 100.5, 7)),
            IndexRow("string_index", "s", ('a "quoted" \\ back\\slash', "Bjørn Ærø", None)),
            IndexRow("quantity_index", "q", ("", "mg", 5, 4.5, 5.5, None, None, 1))]
    bad = {"rows": rows}
    name = _pg_schemas.create()
    try:
        repo = PostgresRepository(pg_base_url(), schema=name, db_pool_size=1,
                                  indexer=lambda resource: bad["rows"])
        repo.upgrade()
        with repo.transaction():
            repo.create({"resourceType": "Basic"}, id="a")
            repo.create({"resourceType": "Basic"}, id="b")
        got = _pg_schemas.admin.execute(f'SELECT id, value, low, high, grp FROM "{name}".number_index'
                                        " ORDER BY id, value").fetchall()
        assert got == [("a", 1.0, 2.5, 3.25, None), ("a", 100.0, 99.5, 100.5, 7),
                       ("b", 1.0, 2.5, 3.25, None), ("b", 100.0, 99.5, 100.5, 7)]
        assert _pg_schemas.admin.execute(f'SELECT DISTINCT value, exact, grp FROM "{name}".string_index'
                                         ).fetchall() == [('a "quoted" \\ back\\slash', "Bjørn Ærø", None)]
        assert _pg_schemas.admin.execute(f'SELECT DISTINCT system, code, value, canonical_code, grp'
                                         f' FROM "{name}".quantity_index').fetchall() == [("", "mg", 5.0, None, 1)]
        for hostile in (IndexRow("number_index", "n", (Decimal("1E+400"), 0, 0, None)),
                        IndexRow("string_index", "s", ("\ud800", "x", None)),
                        IndexRow("string_index", "s", ("nul \x00 byte", "x", None))):
            bad["rows"] = [hostile]
            with pytest.raises(BadRequest):
                repo.create({"resourceType": "Basic"}, id="c")
            assert repo.read("Basic", "c") is None  # rolled back with its resource
        repo.close()
    finally:
        _pg_schemas.drop(name)


@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_generic_safe_search_statements_run_on_forced_generic_plans(repo):
    """Statements generic_safe passed run on the generic pool (plan_cache_mode =
    force_generic_plan), the others on the main pool with PostgreSQL's own choice; inside a
    transaction everything stays on its connection."""
    from ehelse.storage.protocol import SearchParam, SearchQuery

    with repo._search_conns() as conn_for:
        generic = conn_for(True)
        assert conn_for(True) is generic
        assert generic.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
        other = conn_for(False)
        assert other is not generic
        assert other.execute("SHOW plan_cache_mode").fetchone()[0] == "auto"
    with repo.transaction():
        with repo._search_conns() as conn_for:
            assert conn_for(True) is conn_for(False) is repo._local.conn

    for n in range(3):
        repo.create({"resourceType": "Patient", "name": [{"family": f"Nordmann{n}"}], "birthDate": f"1980-01-0{n + 1}"},
                    id=f"p{n}")
    query = SearchQuery(params=[SearchParam("family", None, ("Nordmann1",)),
                                SearchParam("birthdate", None, ("1980-01-02",))])
    for _ in range(3):  # the first use prepares, a forced generic plan from the start
        assert [v.id for v in repo.search("Patient", query).entries] == ["p1"]
    pool = repo._generic_pool()  # every connection it has: pg_prepared_statements is per session
    with ExitStack() as taken:
        conns = [taken.enter_context(pool.connection()) for _ in range(pool.get_stats()["pool_size"])]
        counts = [c.execute("SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
                            " FROM pg_prepared_statements").fetchone() for c in conns]
    plans = [sum(c[0] for c in counts), sum(c[1] for c in counts)]
    assert plans[0] >= 3 and plans[1] == 0
    assert repo.pool_stats()["generic_pool_max"] == 4


@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_searches_taking_the_two_pools_in_opposite_orders_do_not_wait_for_each_other(repo):
    """A search holds one connection at a time: one that holds the generic pool's only
    connection and wants the main pool's must not meet one that holds the main pool's and
    wants the generic one (each would wait for the other until the pool's timeout)."""
    small = PostgresRepository(repo.url, db_pool_size=1, connect_timeout=3)
    both_have_one = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def search(first: bool) -> None:
        try:
            with small._search_conns() as conn_for:
                conn_for(first).execute("SELECT 1")
                both_have_one.wait()
                assert conn_for(not first).execute("SELECT 2").fetchone() == (2,)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=search, args=(first,)) for first in (True, False)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert errors == []
    finally:
        small.close()


@pytest.mark.parametrize("repo", ["postgres"], indirect=True)
def test_the_generic_pool_keeps_pgoptions_and_is_not_opened_after_close(repo, monkeypatch):
    """The generic pool's sessions get their plan mode by a statement, not by the URL's
    startup options, which would hide PGOPTIONS (here: the schema); and a search after
    close() does not open a pool that nothing closes."""
    from psycopg_pool import PoolClosed

    from ehelse.storage.protocol import SearchParam, SearchQuery
    from testsupport import pg_base_url

    repo.create({"resourceType": "Patient", "name": [{"family": "Berg"}]}, id="b")
    monkeypatch.setenv("PGOPTIONS", f"-csearch_path={repo.schema}")
    plain = PostgresRepository(pg_base_url(), db_pool_size=1)  # no options in the URL
    query = SearchQuery(params=[SearchParam("family", None, ("Berg",))])
    try:
        assert [v.id for v in plain.search("Patient", query).entries] == ["b"]
        with plain._generic_pool().connection() as conn:
            assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
    finally:
        plain.close()
    closed = PostgresRepository(repo.url, db_pool_size=1)
    closed.close()
    with pytest.raises(PoolClosed):
        closed._generic_pool()
    assert closed._generic is None
