"""Query plans: the selective parameters are answered from their index, on both backends.

A few hundred generated resources, ANALYZEd, then EXPLAIN of the search SQL that
search/compile.py writes: the index table must be read through the index the migration
made for that lookup (never a scan of the index table), and on SQLite the resource rows
through their primary key.
"""

from __future__ import annotations

import pytest

from ehelse.search.compile import condition_for
from ehelse.storage.protocol import SearchParam

N = 400

CASES = [
    ("token by code", "Observation", SearchParam("code", None, ("http://loinc.org|1005",)), "token_index_lookup"),
    ("token, code only", "Observation", SearchParam("code", None, ("1005",)), "token_index_lookup"),
    ("string prefix", "Patient", SearchParam("name", None, ("ostby10",)), "string_index_lookup"),
    ("date range", "Observation", SearchParam("date", None, ("2015-03",)), "date_index_low"),
    ("reference", "Observation", SearchParam("subject", None, ("Patient/p7",)), "reference_index_lookup"),
    ("patient by id", "Observation", SearchParam("patient", None, ("p7",)), "reference_index_lookup"),
    ("quantity in canonical units", "Observation",
     SearchParam("value-quantity", None, ("gt0.198|http://unitsofmeasure.org|g",)), "quantity_index_canonical"),
    ("uri", "ValueSet", SearchParam("url", None, ("http://example.org/vs/7",)), "uri_index_lookup"),
]


def _load(repo) -> None:
    with repo.transaction():
        for i in range(N):
            family = ("Østby", "Hansen", "Olsen", "Berg")[i % 4] + str(i)
            repo.create({"resourceType": "Patient", "name": [{"family": family}],
                         "birthDate": f"{1940 + i % 60}-0{1 + i % 9}-1{i % 9}"}, id=f"p{i}")
            repo.create({"resourceType": "Observation", "status": "final",
                         "subject": {"reference": f"Patient/p{i}"},
                         "code": {"coding": [{"system": "http://loinc.org", "code": str(1000 + i % 300)}]},
                         "effectiveDateTime": f"20{10 + i % 14}-0{1 + i % 9}-1{i % 9}T10:00:00Z",
                         "valueQuantity": {"value": i % 200, "system": "http://unitsofmeasure.org", "code": "mg"}},
                        id=f"o{i}")
            repo.create({"resourceType": "ValueSet", "status": "active", "url": f"http://example.org/vs/{i}"},
                        id=f"vs{i}")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def planned(request, tmp_path_factory):
    from ehelse.storage import open_repository

    if request.param == "sqlite":
        repo = open_repository(f"sqlite:///{tmp_path_factory.mktemp('explain') / 'explain.sqlite'}")
    else:
        repo = open_repository(request.getfixturevalue("pg_url"), db_pool_size=2)
        repo.upgrade()
    _load(repo)
    with repo.transaction(), repo._reading() as conn:
        repo._exec(conn, "ANALYZE")
    yield request.param, repo
    repo.close()


def plan(backend: str, repo, type: str, *params: SearchParam, drive: bool | None = None) -> str:
    conditions, args = [], [type]
    for param in params:
        sql, more = condition_for(type, param, "r", drive=drive)
        conditions.append(sql)
        args += more
    query = (f"SELECT r.id FROM resource r WHERE NOT r.deleted AND r.type = ? AND {' AND '.join(conditions)}"
             " ORDER BY r.last_updated, r.type, r.id LIMIT 50")
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    with repo._reading() as conn:
        rows = repo._exec(conn, explain + query, args).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("what, type, param, index", CASES, ids=[c[0] for c in CASES])
def test_selective_parameters_use_their_index(planned, what, type, param, index):
    backend, repo = planned
    text = plan(backend, repo, type, param, drive=True)  # as the one parameter a query starts from
    print(f"{backend} {what}:\n{text}")
    assert index in text, text
    table = index[:index.index("_index") + len("_index")]
    if backend == "sqlite":
        assert "SCAN x" not in text and "SCAN r" not in text, text
        assert "USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)" in text, text
    else:
        assert f"Seq Scan on {table}" not in text, text


def test_a_patient_scoped_query_starts_from_the_patient(planned):
    """`Observation?patient=X&code=Y&date=ge2015`: the reference is the `IN` the query starts
    from; code and date are checked per candidate through their (type, id) index, never
    materialised as lists of every Observation with that code or date (compile.drives)."""
    backend, repo = planned
    text = plan(backend, repo, "Observation", SearchParam("patient", None, ("p7",)),
                SearchParam("code", None, ("http://loinc.org|1007",)), SearchParam("date", None, ("ge2015",)))
    print(text)
    if backend == "sqlite":
        assert "reference_index_lookup" in text, text
        assert "SCAN" not in text, text
        assert text.count("CORRELATED SCALAR SUBQUERY") == 2, text  # code and date: per row
        assert text.count("LIST SUBQUERY") == 1, text
    else:  # PostgreSQL starts from whichever index its statistics find most selective
        assert "Seq Scan" not in text, text


def test_a_whole_compartment_is_read_by_primary_key(planned):
    """`Patient/p7/$everything`: every type in the patient's compartment, under a page
    snapshot. On SQLite the members must be looked up by primary key, not found by testing
    every resource along the last_updated index (what a UNION ALL list made it do)."""
    from ehelse.search.execute import where
    from ehelse.storage.protocol import SearchQuery

    backend, repo = planned
    query = SearchQuery(compartment=("Patient", "p7"), snapshot="2999-01-01T00:00:00.000000Z")
    conditions, args = where(None, query, condition_for, backend)
    sql = (f"SELECT r.id FROM resource r WHERE {' AND '.join(conditions)}"
           " ORDER BY +r.last_updated, r.type, r.id LIMIT 200" if backend == "sqlite" else
           f"SELECT r.id FROM resource r WHERE {' AND '.join(conditions)}"
           " ORDER BY r.last_updated, r.type, r.id LIMIT 200")
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    with repo._reading() as conn:
        text = "\n".join(str(row[-1]) for row in repo._exec(conn, explain + sql, args).fetchall())
        found = {row[0] for row in repo._exec(conn, sql, args).fetchall()}
    print(text)
    assert found == {"p7", "o7"}
    if backend == "sqlite":
        assert "SCAN r" not in text and "resource_updated" not in text, text
        assert "USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)" in text, text
        assert "reference_index_target" in text, text
    else:
        assert "Seq Scan on resource" not in text, text


def test_full_text_starts_from_its_index(planned):
    """`Patient?_content=ostby396`: the words are found through the full-text index (SQLite's
    FTS5 table content_fts, PostgreSQL's partial GIN index text_index_content), the resources by primary
    key; neither text_index nor resource is scanned (migrations 0009). PostgreSQL rightly
    reads this test's few hundred text_index rows with a Seq Scan, so there the question is
    whether the condition can use the GIN index at all (sequential scans priced out)."""
    backend, repo = planned
    sql, args = condition_for("Patient", SearchParam("_content", None, ("ostby396",)), "r", backend=backend)
    query = (f"SELECT r.id FROM resource r WHERE NOT r.deleted AND r.type = ? AND {sql}"
             " ORDER BY r.last_updated, r.type, r.id LIMIT 50")
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    with repo._reading() as conn:
        if backend == "postgres":
            repo._exec(conn, "SET enable_seqscan = off")
        try:
            text = "\n".join(str(row[-1]) for row in repo._exec(conn, explain + query, ["Patient", *args]).fetchall())
            found = [row[0] for row in repo._exec(conn, query, ["Patient", *args]).fetchall()]
        finally:
            if backend == "postgres":
                repo._exec(conn, "RESET enable_seqscan")
    print(text)
    assert found == ["p396"]
    if backend == "sqlite":
        assert "VIRTUAL TABLE" in text and "SCAN x" not in text and "SCAN r" not in text, text
        assert "USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)" in text, text
    else:
        assert "text_index_content" in text and "Seq Scan" not in text, text


def test_postgres_checks_dense_parameters_per_row_beside_a_driving_one(planned):
    """search/execute.py hints drive=False to the code and date of a patient's lab trend on
    PostgreSQL, and compile writes them as subplans (`OFFSET 0`) the planner does not try to
    reorder; `code` alone stays a subquery PostgreSQL may start from."""
    from ehelse.search.execute import where
    from ehelse.storage.protocol import SearchQuery

    backend, repo = planned
    trend = SearchQuery(params=[SearchParam("patient", None, ("p7",)), SearchParam("code", None, ("1007",)),
                                SearchParam("date", None, ("ge2015",))])
    conditions, args = where("Observation", trend, repo._compiler.condition, backend)
    sql = " AND ".join(conditions)
    alone, _ = where("Observation", SearchQuery(params=[SearchParam("code", None, ("1007",))]),
                     repo._compiler.condition, backend)
    if backend == "sqlite":
        assert "OFFSET 0" not in sql
        return
    assert sql.count("EXISTS (SELECT 1 FROM (SELECT * FROM") == 2, sql
    assert "OFFSET 0" not in " AND ".join(alone)
    query = f"SELECT r.id FROM resource r WHERE {sql} ORDER BY r.last_updated, r.type, r.id LIMIT 50"
    with repo._reading() as conn:
        text = "\n".join(row[0] for row in repo._exec(conn, "EXPLAIN " + query, args).fetchall())
        found = [row[0] for row in repo._exec(conn, query, args).fetchall()]
    print(text)
    assert found == ["o7"]
    assert "SubPlan" in text and "Seq Scan" not in text, text


@pytest.mark.postgres
def test_postgres_generic_plan_checks_a_dense_parameter_through_the_rows_own_index(planned):
    """A generic plan (search/execute.py: generic_safe; prepared statements) cannot see the
    code: the per-row check of a lab trend's code must still read the candidate's own
    index rows (token_index_resource), not every row of a code it takes for a rare one
    (token_index_lookup: 32 ms against 0.2 ms at N=1,000)."""
    import re

    from ehelse.search.execute import generic_safe, where
    from ehelse.storage.protocol import SearchQuery

    backend, repo = planned
    if backend != "postgres":
        pytest.skip("generic plans are PostgreSQL's")
    trend = SearchQuery(params=[SearchParam("patient", None, ("p7",)), SearchParam("code", None, ("1007",)),
                                SearchParam("date", None, ("ge2015",))])
    assert generic_safe("Observation", trend, backend)
    conditions, args = where("Observation", trend, repo._compiler.condition, backend)
    numbered = iter(range(1, len(args) + 1))
    sql = re.sub(r"\?", lambda _: f"${next(numbered)}", " AND ".join(conditions))
    literals = ", ".join("'" + str(a).replace("'", "''") + "'" for a in args)
    with repo._reading() as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            conn.execute(f"PREPARE trend AS SELECT r.id FROM resource r WHERE {sql}"
                         " ORDER BY r.last_updated, r.type, r.id LIMIT 50")
            text = "\n".join(row[0] for row in conn.execute(f"EXPLAIN EXECUTE trend({literals})").fetchall())
            found = [row[0] for row in conn.execute(f"EXECUTE trend({literals})").fetchall()]
        finally:
            conn.execute("DEALLOCATE ALL")
            conn.execute("RESET plan_cache_mode")
    print(text)
    assert found == ["o7"]
    subplans = text[text.index("SubPlan"):]
    assert "token_index_resource" in subplans and "token_index_lookup" not in subplans, text
    assert "Seq Scan" not in text, text


def test_a_name_beside_a_day_is_checked_per_row():
    """`family=X&birthdate=<a day>` on SQLite: the day is the list the query starts from and
    the name prefix (whose matches grow with the population) is checked per candidate row;
    a name beside a date range, or alone, still drives (execute.drive_hints)."""
    from ehelse.search.execute import drive_hints

    family, day = SearchParam("family", None, ("Hansen",)), SearchParam("birthdate", None, ("1980-03-05",))
    both = drive_hints("Patient", [family, day], False, "sqlite")
    assert [p.drive for p in both] == [False, None]
    subject = SearchParam("subject", None, ("Patient/p7",))
    assert drive_hints("Observation", [subject], False, "sqlite")[0].drive is None
    year = SearchParam("birthdate", None, ("1980",))
    assert [p.drive for p in drive_hints("Patient", [family, year], False, "sqlite")] == [None, None]
    assert drive_hints("Patient", [family], False, "sqlite") == [family]
    hinted = SearchParam("family", None, ("Hansen",), drive=True)
    assert drive_hints("Patient", [hinted, day], False, "sqlite")[0].drive is True
    # PostgreSQL demotes the dense ones instead (a code beside a reference), never alone
    code = SearchParam("code", None, ("http://loinc.org|1005",))
    assert [p.drive for p in drive_hints("Observation", [subject, code], False, "postgres")] == [None, False]
    assert [p.drive for p in drive_hints("Observation", [code], True, "postgres")] == [False]
    assert drive_hints("Observation", [code], False, "postgres") == [code]
    # `_id:not` selects nearly every resource: the code beside it still drives
    not_one = SearchParam("_id", "not", ("o1",))
    assert [p.drive for p in drive_hints("Observation", [not_one, code], False, "postgres")] == [None, None]
    assert [p.drive for p in drive_hints("Patient", [not_one, family], False, "sqlite")] == [None, None]
    # and a name beside a day or a reference (a subplan; its generic plan is taken), but not
    # beside a date range, and never full text (its GIN index)
    assert [p.drive for p in drive_hints("Patient", [family, day], False, "postgres")] == [False, None]
    assert [p.drive for p in drive_hints("Patient", [family, year], False, "postgres")] == [None, False]
    text = SearchParam("_content", None, ("blodtrykk",))
    assert [p.drive for p in drive_hints("Observation", [subject, text], False, "postgres")] == [None, None]
