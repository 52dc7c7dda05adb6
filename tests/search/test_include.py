"""_include and _revinclude (search.html#include), with :iterate, `*` and typed targets."""

from __future__ import annotations

import pytest
from support import RouterClient, bundle_ids, outcome_of, world


def included(response) -> list[str]:
    body = response.parsed()
    assert response.status == 200, body
    return sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                  for e in body.get("entry", []) if e["search"]["mode"] == "include")


def test_include_follows_a_reference_parameter(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("Observation", query=[("_id", "ob1,ob2"), ("_include", "Observation:subject")])
    assert sorted(bundle_ids(response)) == ["ob1", "ob2"]
    assert included(response) == ["Patient/p1", "Patient/p2"]
    assert response.parsed()["total"] == 2  # included resources are not counted


def test_include_with_target_type_and_star(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    typed = client.get("Observation", query=[("_id", "ob1"), ("_include", "Observation:performer:Practitioner")])
    assert included(typed) == ["Practitioner/pr1"]
    typed_other = client.get("Observation", query=[("_id", "ob1"), ("_include", "Observation:performer:Organization")])
    assert included(typed_other) == []
    star = client.get("Observation", query=[("_id", "ob3"), ("_include", "Observation:*")])
    assert included(star) == ["Encounter/e1", "Patient/p1"]


def test_include_iterate(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    once = client.get("Observation", query=[("_id", "ob1"), ("_include", "Observation:subject"),
                                            ("_include", "Patient:organization")])
    assert included(once) == ["Patient/p1"]  # without :iterate, Patient:organization has no Patient to start from
    iterated = client.get("Observation", query=[("_id", "ob1"), ("_include", "Observation:subject"),
                                                ("_include:iterate", "Patient:organization")])
    assert included(iterated) == ["Organization/org1", "Patient/p1"]


def test_revinclude(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("Observation", query=[("_id", "ob1,ob2"), ("_revinclude", "Provenance:target"),
                                                ("_revinclude", "List:item")])
    assert included(response) == ["List/l1", "Provenance/prov1"]
    patients = client.get("Patient", query=[("_id", "p1"), ("_revinclude", "Observation:subject"),
                                            ("_revinclude:iterate", "Provenance:target")])
    assert included(patients) == ["Observation/ob1", "Observation/ob3", "Provenance/prov1"]


def test_a_page_of_several_types_includes_and_revincludes(sql_repo):
    """A page that mixes types (a system search, `$everything`): on PostgreSQL its index rows
    are found with one `(type, id) IN (VALUES ...)` statement, on SQLite per type."""
    world(sql_repo)
    client = RouterClient(sql_repo)
    forward = client.get("", query=[("_type", "Observation,Encounter"), ("_id", "ob1,ob3,e1"), ("_include", "*")])
    assert sorted(bundle_ids(forward)) == ["e1", "ob1", "ob3"]
    assert included(forward) == ["Patient/p1", "Practitioner/pr1"]
    reverse = client.get("", query=[("_type", "Observation,Patient"), ("_id", "ob1,p2"), ("_revinclude", "*")])
    assert sorted(bundle_ids(reverse)) == ["ob1", "p2"]
    assert included(reverse) == ["List/l1", "Observation/ob2", "Provenance/prov1"]


def test_a_match_is_never_also_included(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("Patient", query=[("_id", "p1,p2"), ("_revinclude", "Observation:subject"),
                                            ("_include:iterate", "Observation:subject")])
    entries = response.parsed()["entry"]
    keys = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries]
    assert len(keys) == len(set(keys)) == 5


@pytest.mark.parametrize("value", ["Observation", "Observation:code", "Nothing:subject", "Observation:subject:Nothing",
                                   "Observation:subject:Medication", ":", "a:b:c:d"])
def test_malformed_include_is_400(sql_repo, value):
    response = RouterClient(sql_repo).get("Observation", query=[("_include", value)])
    assert response.status == 400 and outcome_of(response)


def test_capability_statement_lists_includes_and_compartments(sql_repo):
    body = RouterClient(sql_repo).get("metadata").parsed()
    observation = next(r for r in body["rest"][0]["resource"] if r["type"] == "Observation")
    assert "Observation:subject" in observation["searchInclude"] and "*" in observation["searchInclude"]
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert "Observation:subject" in patient["searchRevInclude"]
    assert "http://hl7.org/fhir/CompartmentDefinition/patient" in body["rest"][0]["compartment"]
