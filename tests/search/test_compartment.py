"""Compartment search (search.html#compartments) per the official CompartmentDefinitions,
system search with _type, and GET/POST _search."""

from __future__ import annotations

from support import RouterClient, bundle_ids, outcome_of, world


def test_patient_compartment_of_one_type(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    assert sorted(bundle_ids(client.get("Patient/p1/Observation"))) == ["ob1", "ob3"]
    assert bundle_ids(client.get("Patient/p2/Observation")) == ["ob2"]
    assert bundle_ids(client.get("Patient/p1/Observation", query=[("_id", "ob3")])) == ["ob3"]
    # Practitioner compartment: Observation.performer
    assert bundle_ids(client.get("Practitioner/pr1/Observation")) == ["ob1"]


def test_patient_compartment_of_every_type(sql_repo):
    world(sql_repo)
    response = RouterClient(sql_repo).get("Patient/p1/*")
    body = response.parsed()
    keys = sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["entry"])
    # The Organization and the Practitioner are referenced by p1 but are not in its compartment.
    assert keys == ["Encounter/e1", "Observation/ob1", "Observation/ob3", "Patient/p1"]
    assert body["total"] == 4


def test_type_outside_the_compartment_is_400(sql_repo):
    response = RouterClient(sql_repo).get("Patient/p1/Organization")
    assert response.status == 400 and outcome_of(response)


def test_system_search_with_type(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("", query=[("_type", "Patient,Encounter")])
    body = response.parsed()
    assert sorted(e["resource"]["id"] for e in body["entry"]) == ["e1", "p1", "p2"]
    one = client.get("", query=[("_type", "Observation"), ("identifier", "urn:lab|lab-2")])
    assert bundle_ids(one) == ["ob2"]
    assert client.get("", query=[("_type", "Nothing")]).status == 400


def test_post_search_is_the_same_as_get(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    form = b"identifier=urn%3Alab%7Clab-1&_include=Observation%3Asubject"
    response = client.request("POST", "Observation/_search", form,
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert bundle_ids(response) == ["ob1"] and bundle_ids(response, "include") == ["p1"]
    assert client.request("POST", "Observation/_search", b"{}",
                          headers={"content-type": "application/json"}).status == 415


def test_strict_and_lenient_handling(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    lenient = client.get("Observation", query=[("nonsense", "1"), ("identifier", "urn:lab|lab-1")])
    assert bundle_ids(lenient) == ["ob1"]
    self_link = next(l["url"] for l in lenient.parsed()["link"] if l["relation"] == "self")
    assert "nonsense" not in self_link and "identifier=" in self_link
    strict = client.get("Observation", query=[("nonsense", "1")], headers={"Prefer": "handling=strict"})
    assert strict.status == 400 and "nonsense" in outcome_of(strict)["issue"][0]["diagnostics"]
    malformed = client.get("Observation", query=[("_lastUpdated", "gt2024-13-45")])
    assert malformed.status == 400 and outcome_of(malformed)
