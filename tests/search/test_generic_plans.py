"""Generic plans on PostgreSQL (search/execute.py: generic_safe): which searches may run on a
prepared statement's plan, made once per connection, and that the repository prepares
exactly those and survives psycopg's deferred DEALLOCATE ALL."""

from __future__ import annotations

import pytest

from ehelse.search.execute import generic_safe
from ehelse.search.registry import registry
from ehelse.storage.protocol import SearchParam, SearchQuery

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"


def q(*params: tuple[str, str], **options) -> SearchQuery:
    return SearchQuery(params=[SearchParam(name, None, (value,)) for name, value in params], **options)


SAFE = [
    ("a patient's conditions", "Condition", q(("patient", "p1"))),
    ("active medications", "MedicationRequest", q(("patient", "p1"), ("status", "active"))),
    ("lab trend", "Observation", q(("patient", "p1"), ("code", "8480-6"), ("date", "ge2020"), ("date", "le2023"))),
    ("identifier", "Patient", q(("identifier", f"{FNR}|12345678901"))),
    ("name and birth date", "Patient", q(("family", "Hans"), ("birthdate", "1980-03-05"))),
    ("chained identifier", "Observation", q(("patient.identifier", f"{FNR}|12345678901"))),
    ("_has by _id", "Patient", q(("_has:Encounter:patient:_id", "e1"))),
    ("_id", "Encounter", q(("_id", "e1"))),
    ("compartment", "Condition", SearchQuery(compartment=("Patient", "p1"))),
    ("sorted", "Observation", q(("patient", "p1"), sort=[("date", True)])),
]

UNSAFE = [
    ("a code alone", "Observation", q(("code", "8480-6"))),  # the planner must see how common it is
    ("no parameter", "Observation", q()),
    ("full text", "Observation", q(("patient", "p1"), ("_content", "blodtrykk"))),
    (":missing", "Observation", SearchQuery(params=[SearchParam("patient", None, ("p1",)),
                                                   SearchParam("code", "missing", ("true",))])),
    ("_lastUpdated", "Observation", q(("patient", "p1"), ("_lastUpdated", "ge2020"))),
    ("a chain to a code", "Observation", q(("patient.gender", "female"))),
    ("system search", None, q(("_id", "e1"))),
    ("_id:not beside a code", "Observation", SearchQuery(params=[SearchParam("_id", "not", ("o1",)),
                                                                 SearchParam("code", None, ("8480-6",))])),
    ("_id:not", "Observation", SearchQuery(params=[SearchParam("_id", "not", ("o1",))])),
    ("a later page", "Condition", q(("patient", "p1"), after=("2020-01-01T00:00:00.000000Z", "Condition", "c1"))),
    # common to all types: a correlated EXISTS even where it drives, which the planner may
    # turn into a join ordered by its guess at the value
    ("_profile", "Observation", q(("_profile", "http://example.org/StructureDefinition/x"))),
    ("a chain to _profile", "Observation", q(("patient._profile", "http://example.org/StructureDefinition/x"))),
]


@pytest.mark.parametrize("what, type, query", SAFE, ids=[c[0] for c in SAFE])
def test_selective_shapes_may_use_a_generic_plan(what, type, query):
    assert generic_safe(type, query, "postgres")
    assert not generic_safe(type, query, "sqlite")  # SQLite plans without the values anyway


@pytest.mark.parametrize("what, type, query", UNSAFE, ids=[c[0] for c in UNSAFE])
def test_value_dependent_shapes_are_planned_per_request(what, type, query):
    assert not generic_safe(type, query, "postgres")


def test_an_access_rule_with_arguments_keeps_per_request_plans():
    literal = q(("patient", "p1"))
    literal.access = lambda type, alias: (f"{alias}.type <> 'AuditEvent'", [])
    assert generic_safe("Condition", literal, "postgres")
    with_args = q(("patient", "p1"))
    with_args.access = lambda type, alias: (f"{alias}.id IN (?)", ["p1"])
    assert not generic_safe("Condition", with_args, "postgres")
    chained = q(("patient.identifier", f"{FNR}|1"))
    chained.access = literal.access  # a chain's linked resources get rules of their own
    assert not generic_safe("Observation", chained, "postgres")


@pytest.fixture
def one_connection(pg_url):
    from ehelse.storage import open_repository

    repo = open_repository(pg_url, db_pool_size=1)
    repo.upgrade()
    repo.update({"resourceType": "Patient", "id": "p1", "name": [{"family": "Åsen"}]})
    for i in range(3):
        repo.update({"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/p1"},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": str(100 + i)}]}})
    yield repo
    repo.close()


def _prepared(repo) -> list[str]:
    with repo._generic_pool().connection() as conn:  # where the prepared searches run (db_pool_size=1: one)
        rows = conn.execute("SELECT statement FROM pg_prepared_statements", prepare=False).fetchall()
    return [row[0] for row in rows if "FROM resource r WHERE" in row[0]]


@pytest.mark.postgres
def test_postgres_prepares_the_safe_searches_only(one_connection):
    repo = one_connection
    assert _prepared(repo) == []
    assert [v.id for v in repo.search("Condition", q(("patient", "p1"))).entries] == ["c0", "c1", "c2"]
    assert len(_prepared(repo)) == 1 and "reference_index" in _prepared(repo)[0]
    assert [v.id for v in repo.search("Condition", q(("code", "101"))).entries] == ["c1"]  # a code alone
    assert len(_prepared(repo)) == 1


@pytest.mark.postgres
def test_postgres_search_right_after_an_upgrade_on_the_same_connection(_pg_schemas):
    """A migration's DROP or ALTER (in pipeline mode) leaves psycopg owing the server a
    DEALLOCATE ALL, which it sends after the connection's next statement: the search it
    has just prepared is gone the next time. The repository prepares it again (no 500)."""
    from testsupport import pg_base_url, schema_url

    from ehelse.storage import open_repository

    schema = _pg_schemas.create()  # a fresh one: the upgrade must run its migrations here
    repo = open_repository(schema_url(pg_base_url(), schema), db_pool_size=1)
    try:
        repo.upgrade()
        for _ in range(3):
            assert repo.search("Condition", q(("patient", "nobody"))).entries == []
    finally:
        repo.close()
        _pg_schemas.drop(schema)


@pytest.mark.postgres
def test_postgres_prepares_include_statements_whose_text_is_the_same_for_any_ids(one_connection):
    """`_include` passes a page's ids as one array (one statement for any page); the VALUES
    list of a page of several types ($everything) grows with the page, so it is not
    prepared: it would only fill the connection's cache of prepared statements."""
    from ehelse.search.include import IncludeSpec

    repo = one_connection

    def includes() -> list[str]:
        with repo._generic_pool().connection() as conn:
            rows = conn.execute("SELECT statement FROM pg_prepared_statements", prepare=False).fetchall()
        return [row[0] for row in rows if "FROM reference_index ri JOIN resource r" in row[0]]

    forward = SearchQuery(params=[SearchParam("patient", None, ("p1",))],
                          include=[IncludeSpec("Condition", "subject", None)])
    assert [v.id for v in repo.search("Condition", forward).included] == ["p1"]
    assert len(includes()) == 1 and "= ANY(" in includes()[0]
    everything = SearchQuery(compartment=("Patient", "p1"), include=[IncludeSpec(None, None, None)])
    page = repo.search(None, everything)
    assert sorted(v.id for v in page.entries) == ["c0", "c1", "c2", "p1"]
    assert len(includes()) == 1


@pytest.mark.postgres
def test_postgres_prepared_search_survives_a_column_type_change(_pg_schemas):
    """A schema change by another connection (`ehelse db upgrade` while servers run) that
    changes the type of a column a search returns makes PostgreSQL refuse every statement
    prepared before it ("cached plan must not change result type"; a prepared statement's
    result type is fixed): each such search on a pooled connection would fail, 500, until
    the connection is recycled. The repository prepares it again instead."""
    import psycopg
    from testsupport import pg_base_url, schema_url

    from ehelse.search.include import IncludeSpec
    from ehelse.storage import open_repository

    schema = _pg_schemas.create()
    url = schema_url(pg_base_url(), schema)
    repo = open_repository(url, db_pool_size=1)
    try:
        repo.upgrade()
        repo.update({"resourceType": "Patient", "id": "p1"})
        repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}})
        query = SearchQuery(params=[SearchParam("patient", None, ("p1",))], total="accurate",
                            include=[IncludeSpec("Condition", "subject", None)])
        for _ in range(2):
            page = repo.search("Condition", query)
        with repo._generic_pool().connection() as conn:
            prepared = [row[0] for row in conn.execute("SELECT statement FROM pg_prepared_statements",
                                                       prepare=False)]
        assert len([s for s in prepared if "resource r" in s]) == 2  # the search and its _include
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("ALTER TABLE resource ALTER COLUMN version_id TYPE bigint")
        for _ in range(2):
            page = repo.search("Condition", query)
            assert [v.id for v in page.entries] == ["c1"] and [v.id for v in page.included] == ["p1"]
            assert page.entries[0].version_id == 1
    finally:
        repo.close()
        _pg_schemas.drop(schema)


@pytest.mark.postgres
def test_postgres_generic_plans_agree_with_the_reference(_pg_schemas, tmp_path):
    """The searches generic_safe lets run prepared give the same resources on a generic plan
    as the reference evaluator (search/reference.py): PostgreSQL forced to generic plans
    (the repository's generic pool: plan_cache_mode=force_generic_plan) on a seeded population, for generated queries alone
    and each beside a patient (the patient drives; the generated parameter, with its
    modifiers, prefixes and OR lists, is then compile._membership's opaque per-row check).
    Here the population is seeded so that most generated queries return something."""
    import json
    from datetime import date

    from testsupport import pg_base_url, schema_url

    from ehelse.errors import BadRequest
    from ehelse.nobasis.seed import seed
    from ehelse.search.agreement import QueryGenerator
    from ehelse.search.reference import ReferenceEvaluator
    from ehelse.storage import open_repository

    source = open_repository(f"sqlite:///{tmp_path / 'seed.sqlite'}")
    seed(source, patients=4, seed=5, reference_date=date(2026, 1, 15), validate_every=0)
    schema = _pg_schemas.create()
    repo = open_repository(schema_url(pg_base_url(), schema), db_pool_size=1)
    try:
        repo.upgrade()
        with repo.transaction():
            for version in source.iter_current():
                repo.update(json.loads(version.content))
        with repo._reading() as conn:
            conn.execute("ANALYZE")
        evaluator = ReferenceEvaluator.from_repository(repo)
        patients = sorted(evaluator.by_type["Patient"])
        queries = []
        for i, query in enumerate(QueryGenerator(evaluator, 7).generate(600)):
            queries.append((query.type, list(query.params)))
            for code in ("patient", "subject"):
                if registry().get(query.type, code) is not None:
                    beside = SearchParam(code, None, (f"Patient/{patients[i % len(patients)]}",))
                    queries.append((query.type, [beside, *query.params]))
                    break
        generic, failures = 0, []
        for type, params in queries:
            try:
                expected = evaluator.search(type, params)
            except NotImplementedError:
                continue
            except (ValueError, KeyError):
                expected = None
            search = SearchQuery(params=params, count=100_000, total="none")
            if not generic_safe(type, search, "postgres"):
                continue
            generic += 1
            try:
                got = {v.id for v in repo.search(type, search).entries}
            except BadRequest:
                got = None
            if got != expected and not any("_lastUpdated" in p.name for p in params):
                failures.append(f"{type}?{params}: {sorted(got or ())[:3]} != {sorted(expected or ())[:3]}")
        with repo._generic_pool().connection() as conn:  # where the generic-safe statements ran
            assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
        assert generic >= 300
        assert not failures, "\n".join(failures[:20])
    finally:
        repo.close()
        source.close()
        _pg_schemas.drop(schema)


@pytest.mark.postgres
def test_postgres_many_shapes_only_rotate_the_cache_of_prepared_statements(one_connection):
    """More shapes than psycopg keeps prepared (100 per connection): each new one evicts the
    oldest (a DEALLOCATE of its own), none fails, and the connection never holds more."""
    repo = one_connection
    for _ in range(2):
        for k in range(1, 131):  # OR lists of 1..130 values: 130 statement texts
            values = tuple(f"Patient/x{j}" for j in range(k - 1)) + ("Patient/p1",)
            page = repo.search("Condition", SearchQuery(params=[SearchParam("patient", None, values)]))
            assert [v.id for v in page.entries] == ["c0", "c1", "c2"]
    with repo._generic_pool().connection() as conn:
        count = conn.execute("SELECT count(*) FROM pg_prepared_statements", prepare=False).fetchone()[0]
    assert 100 <= count <= 101
