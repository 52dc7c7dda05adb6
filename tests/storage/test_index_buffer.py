"""Index rows buffered inside a transaction (storage/sqlrepo.py, _write_index/_flush_index):
reads and rewrites inside the transaction see them, a rollback drops them, commit writes them."""

from __future__ import annotations

import pytest

from ehelse.storage.protocol import SearchParam, SearchQuery


def patient(**fields):
    return {"resourceType": "Patient", **fields}


def by_identifier(value: str) -> SearchQuery:
    return SearchQuery(params=[SearchParam("identifier", None, (f"urn:t|{value}",))], total="accurate")


def ids(page) -> set[str]:
    return {v.id for v in page.entries}


def test_search_inside_transaction_sees_buffered_rows(repo):
    with repo.transaction():
        repo.create(patient(identifier=[{"system": "urn:t", "value": "1"}]), id="a")
        repo.create(patient(identifier=[{"system": "urn:t", "value": "1"}]), id="b")
        assert ids(repo.search("Patient", by_identifier("1"))) == {"a", "b"}
    assert ids(repo.search("Patient", by_identifier("1"))) == {"a", "b"}


def test_update_and_delete_in_one_transaction_leave_only_current_rows(repo):
    with repo.transaction():
        repo.create(patient(identifier=[{"system": "urn:t", "value": "old"}]), id="u")
        repo.update(patient(id="u", identifier=[{"system": "urn:t", "value": "new"}]))
        repo.create(patient(identifier=[{"system": "urn:t", "value": "gone"}]), id="d")
        repo.delete("Patient", "d")
    assert ids(repo.search("Patient", by_identifier("old"))) == set()
    assert ids(repo.search("Patient", by_identifier("new"))) == {"u"}
    assert ids(repo.search("Patient", by_identifier("gone"))) == set()


def test_rollback_drops_buffered_rows_and_next_transaction_starts_clean(repo):
    with pytest.raises(RuntimeError):
        with repo.transaction():
            repo.create(patient(identifier=[{"system": "urn:t", "value": "x"}]), id="x")
            raise RuntimeError("boom")
    with repo.transaction():
        repo.create(patient(identifier=[{"system": "urn:t", "value": "y"}]), id="y")
    assert ids(repo.search("Patient", by_identifier("x"))) == set()
    assert ids(repo.search("Patient", by_identifier("y"))) == {"y"}
