"""The storage layer's own search compiler, the default indexer and the migration files."""

from __future__ import annotations

import pytest

from ehelse.errors import BadRequest
from ehelse.storage import migrations
from ehelse.storage.index import INDEX_TABLES, identifier_indexer
from ehelse.storage.protocol import SearchParam, SearchQuery
from ehelse.storage.sqlsearch import SearchCompiler, date_range, split_token


@pytest.mark.parametrize("text, low, high", [
    ("2024", "2024-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z"),
    ("2024-02", "2024-02-01T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z"),
    ("2024-12", "2024-12-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z"),
    ("2024-02-29", "2024-02-29T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z"),
    ("2024-05-01T10:30Z", "2024-05-01T10:30:00.000000Z", "2024-05-01T10:31:00.000000Z"),
    ("2024-05-01T10:30:15Z", "2024-05-01T10:30:15.000000Z", "2024-05-01T10:30:16.000000Z"),
    ("2024-05-01T10:30:15.5Z", "2024-05-01T10:30:15.500000Z", "2024-05-01T10:30:15.600000Z"),
    ("2024-05-01T10:30:15.123456Z", "2024-05-01T10:30:15.123456Z", "2024-05-01T10:30:15.123457Z"),
    ("2024-05-01T01:00:00+02:00", "2024-04-30T23:00:00.000000Z", "2024-04-30T23:00:01.000000Z"),
    ("2024-05-01T01:00:00-01:30", "2024-05-01T02:30:00.000000Z", "2024-05-01T02:30:01.000000Z"),
])
def test_date_range(text, low, high):
    assert date_range(text) == (low, high)


@pytest.mark.parametrize("text", ["", "24", "2024-13", "2024-02-30", "2024-05-01T25:00Z", "yesterday",
                                  "2024-05-01 10:00"])
def test_bad_dates_are_bad_requests(text):
    with pytest.raises(BadRequest):
        date_range(text)


def test_split_token():
    assert split_token("urn:s|c") == ("urn:s", "c")
    assert split_token("|c") == ("", "c")
    assert split_token("urn:s|") == ("urn:s", "")
    assert split_token("c") == (None, "c")
    assert split_token(r"a\|b|c\,d") == ("a|b", "c,d")  # search.html#escaping


def _compile(*params, sort=()):
    return SearchCompiler().compile("Patient", SearchQuery(list(params), sort=list(sort)))


def test_compiler_rejects_what_it_cannot_do():
    with pytest.raises(BadRequest):
        _compile(SearchParam("identifier", "not", ("x",)))
    with pytest.raises(BadRequest):
        _compile(SearchParam("_id", None, ("",)))
    with pytest.raises(BadRequest):
        _compile(SearchParam("_lastUpdated", None, ("ap2024",)))
    with pytest.raises(BadRequest):
        _compile(sort=[("birthdate", False)])


def test_compiler_output_is_parameterised():
    compiled = _compile(SearchParam("_id", None, ("x'; DROP TABLE resource; --",)))
    assert "DROP" not in " ".join(compiled.where)
    assert compiled.params == ["Patient", "x'; DROP TABLE resource; --"]


def test_identifier_indexer():
    rows = identifier_indexer({"resourceType": "Patient", "identifier": [
        {"system": "urn:a", "value": "1"}, {"value": "2"}, {"system": "urn:a", "value": "1"},
        {"system": "urn:no-value"}, "junk"]})
    # (system, code) lead the token_index value columns; the search issue adds more after
    assert [(r.table, r.param, r.values[:2]) for r in rows] == [
        ("token_index", "identifier", ("urn:a", "1")), ("token_index", "identifier", ("", "2"))]
    assert all(len(r.values) == len(INDEX_TABLES[r.table]) for r in rows)
    single = identifier_indexer({"resourceType": "Bundle", "identifier": {"system": "s", "value": "v"}})
    assert [r.values[:2] for r in single] == [("s", "v")]
    assert identifier_indexer({"resourceType": "Basic"}) == []


def test_migrations_are_in_step_on_both_backends():
    sqlite, postgres = migrations.migrations("sqlite"), migrations.migrations("postgres")
    assert [m.name for m in sqlite] == [m.name for m in postgres]
    for migration in sqlite + postgres:
        statements = migration.statements()
        assert statements and not any(s.lstrip().startswith("--") for s in statements)
        assert any("CREATE TABLE resource " in s for s in statements) or migration.version > 1
