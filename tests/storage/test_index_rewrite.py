"""An update's index rows (storage/sqlrepo.py, _write_index / _rewrite_index): after any
update, search sees exactly the new version's values, whether the backend rewrites every
row or only the rows that changed (SQLite keeps the rows that stay)."""

from __future__ import annotations

import copy

import pytest

from ehelse.storage.index import INDEX_TABLES
from ehelse.storage.protocol import SearchParam, SearchQuery

OBSERVATION = {
    "resourceType": "Observation", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body height"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2026-01-15T09:10:00+01:00",
    "valueQuantity": {"value": 172.50, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
}


def found(repo, name: str, value: str, type: str = "Observation") -> set[str]:
    query = SearchQuery(params=[SearchParam(name, None, (value,))], total="accurate")
    return {v.id for v in repo.search(type, query).entries}


def stored_rows(repo, id: str) -> dict[tuple, int]:
    """SQLite: (table, param, values) -> rowid of every index row of the Observation."""
    rows = {}
    for table, columns in INDEX_TABLES.items():
        for rowid, param, *values in repo._writer.execute(
                f"SELECT rowid, param, {', '.join(columns)} FROM {table} WHERE type = 'Observation' AND id = ?",
                (id,)):
            rows[(table, param, tuple(values))] = rowid
    return rows


def test_update_changes_what_search_finds_and_keeps_the_rest(repo):
    repo.create(copy.deepcopy(OBSERVATION), id="o1")
    changed = {**copy.deepcopy(OBSERVATION), "id": "o1", "status": "amended",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body length"}]},
               "valueQuantity": {**OBSERVATION["valueQuantity"], "value": 180}}
    repo.update(changed)
    assert found(repo, "status", "final") == set()
    assert found(repo, "status", "amended") == {"o1"}
    assert found(repo, "code", "http://loinc.org|8302-2") == {"o1"}  # unchanged row still there
    assert found(repo, "subject", "Patient/p1") == {"o1"}
    assert found(repo, "value-quantity", "172.5") == set()
    assert found(repo, "value-quantity", "180") == {"o1"}
    assert found(repo, "date", "2026-01-15") == {"o1"}
    assert found(repo, "_content", "length") == {"o1"}  # full text follows the new words
    assert found(repo, "_content", "height") == set()
    # back again, then a deletion: nothing of the old versions is left behind
    repo.update({**copy.deepcopy(OBSERVATION), "id": "o1"})
    assert found(repo, "status", "amended") == set() and found(repo, "status", "final") == {"o1"}
    assert found(repo, "_content", "height") == {"o1"} and found(repo, "_content", "length") == set()
    repo.delete("Observation", "o1")
    assert found(repo, "code", "http://loinc.org|8302-2") == set()


def test_update_in_a_transaction_after_its_create_leaves_only_the_new_rows(repo):
    with repo.transaction():  # the created rows are still buffered when the update comes
        repo.create(copy.deepcopy(OBSERVATION), id="o2")
        repo.update({**copy.deepcopy(OBSERVATION), "id": "o2", "status": "cancelled"})
        repo.update({**copy.deepcopy(OBSERVATION), "id": "o2", "status": "amended"})
    assert found(repo, "status", "amended") == {"o2"}
    assert found(repo, "status", "final") == set() and found(repo, "status", "cancelled") == set()
    assert found(repo, "code", "http://loinc.org|8302-2") == {"o2"}


@pytest.fixture
def sqlite_repo(tmp_path):
    from ehelse.storage import open_repository

    repository = open_repository(f"sqlite:///{tmp_path / 'rewrite.sqlite'}")
    yield repository
    repository.close()


def test_sqlite_update_keeps_the_rows_that_stay(sqlite_repo):
    repo = sqlite_repo
    repo.create(copy.deepcopy(OBSERVATION), id="o3")
    before = stored_rows(repo, "o3")
    repo.update({**copy.deepcopy(OBSERVATION), "id": "o3", "status": "amended"})
    after = stored_rows(repo, "o3")
    status_before = [k for k in before if k[1] == "status"]
    status_after = [k for k in after if k[1] == "status"]
    assert [k[2][1] for k in status_before] == ["final"] and [k[2][1] for k in status_after] == ["amended"]
    kept = set(before) - set(status_before)
    assert kept and kept == set(after) - set(status_after)
    assert all(after[k] == before[k] for k in kept)  # the same stored rows, not new copies
    assert after[status_after[0]] not in before.values()


def test_sqlite_update_removes_stored_rows_the_indexer_no_longer_makes(sqlite_repo):
    # Rows from an older registry (a parameter since removed) or duplicates: an update of
    # the resource leaves exactly the indexer's rows.
    repo = sqlite_repo
    repo.create(copy.deepcopy(OBSERVATION), id="o4")
    expected = set(stored_rows(repo, "o4"))
    with repo.transaction():
        conn = repo._local.conn
        conn.execute("INSERT INTO token_index (type, id, param, system, code, text, grp)"
                     " VALUES ('Observation', 'o4', 'retired-param', '', 'x', NULL, NULL)")
        conn.execute("INSERT INTO token_index (type, id, param, system, code, text, grp)"
                     " SELECT type, id, param, system, code, text, grp FROM token_index"
                     " WHERE type = 'Observation' AND id = 'o4' AND param = 'status'")
    repo.update({**copy.deepcopy(OBSERVATION), "id": "o4"})
    assert set(stored_rows(repo, "o4")) == expected
    count = repo._writer.execute("SELECT count(*) FROM token_index WHERE type = 'Observation'"
                                 " AND id = 'o4' AND param = 'status'").fetchone()[0]
    assert count == 1
    assert found(repo, "status", "final") == {"o4"}


# -- reads inside a write transaction (sqlrepo.read, _current) ---------------------------------

def test_read_in_a_transaction_follows_the_transactions_own_writes(repo):
    with repo.transaction():
        assert repo.read("Observation", "r1") is None
        repo.create(copy.deepcopy(OBSERVATION), id="r1")
        assert repo.read("Observation", "r1").version_id == 1
        assert repo.read("Observation", "r1").version_id == 1
        repo.update({**copy.deepcopy(OBSERVATION), "id": "r1", "status": "amended"})
        assert repo.read("Observation", "r1").version_id == 2
        repo.delete("Observation", "r1")
        assert repo.read("Observation", "r1").deleted
        version, created = repo.update({**copy.deepcopy(OBSERVATION), "id": "r1"})
        assert (version.version_id, created) == (4, True)
        assert repo.read("Observation", "r1").version_id == 4
    assert repo.read("Observation", "r1").version_id == 4


def test_read_outside_a_transaction_always_asks_the_database(repo):
    repo.create(copy.deepcopy(OBSERVATION), id="r2")
    assert repo.read("Observation", "r2").version_id == 1
    repo.update({**copy.deepcopy(OBSERVATION), "id": "r2", "status": "amended"})
    assert repo.read("Observation", "r2").version_id == 2


def test_sqlite_write_after_a_read_in_its_transaction_reads_the_row_once(sqlite_repo):
    repo = sqlite_repo
    repo.create(copy.deepcopy(OBSERVATION), id="r3")
    statements: list[str] = []
    with repo.transaction():
        repo._local.conn.set_trace_callback(statements.append)
        try:
            repo.read("Observation", "r3")
            repo.read("Observation", "r3")
            repo.update({**copy.deepcopy(OBSERVATION), "id": "r3", "status": "amended"})
        finally:
            repo._local.conn.set_trace_callback(None)
    reads = [s for s in statements if s.startswith("SELECT") and "FROM resource WHERE" in s]
    assert len(reads) == 1, reads
    assert repo.read("Observation", "r3").version_id == 2
