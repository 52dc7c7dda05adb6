"""Chained parameters and `_has` (search.html#chaining, #has) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from support import FNR, RouterClient, bundle_ids, ids_of, outcome_of, world

from ehelse.errors import BadRequest
from ehelse.storage.protocol import SearchParam, SearchQuery


def search(repo, type, name, value):
    return sorted(ids_of(repo.search(type, SearchQuery(params=[SearchParam(name, None, tuple(value.split(",")))]))))


def test_typed_and_untyped_chain_to_an_identifier(sql_repo):
    w = world(sql_repo)
    assert search(sql_repo, "Observation", "subject:Patient.identifier", f"{FNR}|{w['fnr1']}") == ["ob1", "ob3"]
    assert search(sql_repo, "Observation", "patient.identifier", w["fnr2"]) == ["ob2"]
    assert search(sql_repo, "Observation", "subject.identifier", "no-such-number") == []


def test_two_level_chain(sql_repo):
    world(sql_repo)
    # Observation -> Patient -> Organization, by the organization's identifier
    assert search(sql_repo, "Observation", "subject:Patient.organization.identifier", "974600951") == ["ob1", "ob3"]
    assert search(sql_repo, "Observation", "encounter.subject._id", "p1") == ["ob3"]


def test_chain_target_type_restricts(sql_repo):
    world(sql_repo)
    assert search(sql_repo, "Observation", "subject:Patient._id", "p1") == ["ob1", "ob3"]
    assert search(sql_repo, "Observation", "subject:Group._id", "p1") == []


def test_has_and_nested_has(sql_repo):
    world(sql_repo)
    assert search(sql_repo, "Patient", "_has:Observation:patient:identifier", "lab-2") == ["p2"]
    assert search(sql_repo, "Patient", "_has:Observation:subject:_id", "ob1,ob2") == ["p1", "p2"]
    # Patients with an Observation that a Provenance points at
    assert search(sql_repo, "Patient", "_has:Observation:patient:_has:Provenance:target:_id", "prov1") == ["p1"]
    assert search(sql_repo, "Practitioner", "_has:Observation:performer:_id", "ob1") == ["pr1"]


def test_chain_and_has_combine_with_and(sql_repo):
    world(sql_repo)
    query = SearchQuery(params=[SearchParam("subject.identifier", None, ("13031353453",)),
                                SearchParam("_has:Provenance:target:_id", None, ("prov1",))])
    assert ids_of(sql_repo.search("Observation", query)) == ["ob1"]


def test_deleted_targets_do_not_match(sql_repo):
    world(sql_repo)
    sql_repo.delete("Encounter", "e1")
    assert search(sql_repo, "Observation", "encounter._id", "e1") == []


@pytest.mark.parametrize("name", ["code.identifier", "subject:Patient.nonsense", "nonsense.identifier",
                                  "_has:Observation", "_has:Nothing:patient:_id", "_has:Observation:code:_id",
                                  "subject:Organization._id",
                                  "subject.link.link.link.link._id"])
def test_bad_chains_are_400(sql_repo, name):
    with pytest.raises(BadRequest):
        sql_repo.search("Observation" if not name.startswith("_has") else "Patient",
                        SearchQuery(params=[SearchParam(name, None, ("x",))]))


def test_chain_through_the_router(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("Observation", query=[("subject:Patient.identifier", f"{FNR}|13031353453")])
    assert sorted(bundle_ids(response)) == ["ob1", "ob3"]
    response = client.get("Patient", query=[("_has:Observation:patient:identifier", "urn:lab|lab-1")])
    assert bundle_ids(response) == ["p1"]
    bad = client.get("Observation", query=[("subject.nonsense", "x")], headers={"Prefer": "handling=strict"})
    assert bad.status == 400 and outcome_of(bad)
