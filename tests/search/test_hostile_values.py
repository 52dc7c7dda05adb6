"""Hostile search values and stored values: a 400 OperationOutcome or a result, never a 500
(an exception other than BadRequest), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehelse.errors import BadRequest
from ehelse.storage.protocol import SearchParam, SearchQuery

NASTY = ["gt", "ge-", "9999", "0000", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2024-02-30",
         "1e999", "-1e-999", "-", "|", "||", "|||", "$", "$$", "\\", "\\|", "a|b|c|d", "%_", "x' OR '1'='1",
         "ap9999", "ap0001", "eb1e308", "Patient/", "/1", "http://", "urn:", "ø" * 3000, "\u0000", "😀", "ne",
         "\ud800", "a\udfffb"]  # lone surrogates: a JSON body's `\ud800` (ifNoneExist) makes one
PARAMS = [("Patient", "birthdate"), ("Patient", "name"), ("Patient", "identifier"), ("Patient", "gender"),
          ("Patient", "general-practitioner"), ("Observation", "value-quantity"), ("Observation", "code-value-quantity"),
          ("RiskAssessment", "probability"), ("ValueSet", "url"), ("Patient", "_lastUpdated"), ("Patient", "_id"),
          ("Patient", "_content"), ("Observation", "combo-code-value-concept")]
MODIFIERS = [None, "missing", "exact", "contains", "text", "not", "in", "below", "above", "of-type",
             "identifier", "Patient", "nonsense"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request, tmp_path_factory):
    from ehelse.storage import open_repository

    if request.param == "sqlite":
        repository = open_repository(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.sqlite'}")
    else:
        repository = open_repository(request.getfixturevalue("pg_url"), db_pool_size=2)
        repository.upgrade()
    # stored values at the edges of what the index can hold
    repository.create({"resourceType": "Patient", "birthDate": "9999-12-31", "name": [{"family": "x" * 5000}],
                       "identifier": [{"system": "s" * 3000, "value": "v" * 3000}]}, id="edge1")
    repository.create({"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                       "effectiveDateTime": "0001-01-01T00:00:00+01:00",
                       "valueQuantity": {"value": 1e308, "code": "kg", "system": "http://unitsofmeasure.org"}},
                      id="edge2")
    yield repository
    repository.close()


def _search(repo, type, name, modifier, value):
    try:
        repo.search(type, SearchQuery(params=[SearchParam(name, modifier, (value,))], count=5))
    except BadRequest as exc:
        assert exc.status == 400 and exc.issues[0].expression == name


@pytest.mark.parametrize("type, name", PARAMS, ids=[f"{t}.{n}" for t, n in PARAMS])
def test_nasty_values_and_modifiers(repo, type, name):
    for modifier in MODIFIERS:
        for value in NASTY:
            _search(repo, type, name, modifier, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(PARAMS), st.sampled_from(MODIFIERS[:4]), st.text(min_size=1, max_size=40))
def test_random_values(repo, param, modifier, value):
    _search(repo, *param, modifier, value)


@pytest.mark.parametrize("type, name", [("Observation", "patient.identifier"), ("Patient", "_has:Observation:patient:_id"),
                                        ("Patient", "_list"), ("Observation", "patient")])
def test_lone_surrogates_in_chains_and_lists(repo, type, name):
    """No database takes a lone surrogate (not UTF-8): 400, where the driver's encoder
    raised UnicodeEncodeError, 500 (a transaction's ifNoneExist `identifier=\\ud800`)."""
    for value in ("\ud800", "x|\udc00"):
        with pytest.raises(BadRequest) as caught:
            repo.search(type, SearchQuery(params=[SearchParam(name, None, (value,))], count=5))
        assert caught.value.status == 400


def test_edge_values_are_found(repo):
    found = repo.search("Patient", SearchQuery(params=[SearchParam("birthdate", None, ("9999",))]))
    assert [e.id for e in found.entries] == ["edge1"]
    found = repo.search("Observation", SearchQuery(params=[SearchParam("value-quantity", None, ("gt1e300",))]))
    assert [e.id for e in found.entries] == ["edge2"]
