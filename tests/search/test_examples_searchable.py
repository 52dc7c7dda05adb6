"""The 705 official R4 examples load and are searchable: every example is found again by
searches built from its own index rows (a token, a string, a date, a reference, ... per
resource), on SQLite and PostgreSQL. Skipped without ../shared."""

from __future__ import annotations

import tarfile

import pytest

from ehelse.fhir import jsoncodec
from ehelse.search.extract import index_rows
from ehelse.search.registry import registry
from ehelse.storage.protocol import SearchParam, SearchQuery


def _escape(text: str) -> str:
    # search.html#escaping
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("$", "\\$").replace(",", "\\,")


def query_for(row) -> SearchParam | None:
    """A search for the value of one index row that must find its resource."""
    if ":" in row.param or "$" in row.param or row.values[-1] is not None:
        return None
    values = row.values
    if row.table == "token_index" and values[1]:
        return SearchParam(row.param, None, (f"{_escape(values[0])}|{_escape(values[1])}",))
    if row.table == "string_index" and values[1].strip():
        return SearchParam(row.param, "exact" if len(values[1]) % 2 else None, (_escape(values[1]),))
    if row.table == "date_index":
        return SearchParam(row.param, None, ("ge" + values[0],))
    if row.table == "reference_index":
        target = f"{values[0]}/{values[1]}" if values[0] and values[1] else values[2]
        return SearchParam(row.param, None, (_escape(target),)) if target else None
    if row.table in ("quantity_index", "number_index"):
        value = values[2] if row.table == "quantity_index" else values[0]
        return SearchParam(row.param, None, (f"ge{value!r}",)) if abs(value) < 1e300 else None
    if row.table == "uri_index":
        return SearchParam(row.param, None, (_escape(values[0]),))
    return None


@pytest.fixture(scope="module")
def examples(shared_dir) -> dict[tuple[str, str], dict]:
    found = {}
    with tarfile.open(shared_dir / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                resource = jsoncodec.loads(tar.extractfile(member).read(), max_depth=10_000)
                found[(resource["resourceType"], resource["id"])] = resource
    return found


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stored(request, examples, tmp_path_factory):
    from ehelse.storage import open_repository

    if request.param == "sqlite":
        repo = open_repository(f"sqlite:///{tmp_path_factory.mktemp('examples') / 'examples.sqlite'}")
    else:
        repo = open_repository(request.getfixturevalue("pg_url"), db_pool_size=2)
        repo.upgrade()
    with repo.transaction():
        for resource in examples.values():
            repo.update(resource)
    yield repo
    repo.close()


def test_every_example_is_found_by_its_own_values(stored, examples):
    misses, searched = [], 0
    for (type, id), resource in examples.items():
        kinds_done: set[str] = set()
        for row in index_rows(resource):
            param = query_for(row)
            if param is None or row.table in kinds_done or registry().get(type, row.param) is None:
                continue
            kinds_done.add(row.table)
            page = stored.search(type, SearchQuery(params=[param], count=1000, total="none"))
            searched += 1
            if id not in {entry.id for entry in page.entries}:
                misses.append(f"{type}/{id}: {param}")
    print(f"{searched} searches over {len(examples)} examples")
    assert searched > 1500
    assert not misses, misses[:20]
