"""Patient/$everything (patient-operation-everything.html): the compartment plus what it
refers to, with start/end, _since, _type and paging."""

from __future__ import annotations

from support import RouterClient, outcome_of, world


def keys(response, mode: str | None = None) -> list[str]:
    body = response.parsed()
    assert response.status == 200, body
    return sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body.get("entry", [])
                  if mode is None or e["search"]["mode"] == mode)


def test_everything_is_the_compartment_and_what_it_refers_to(sql_repo):
    world(sql_repo)
    response = RouterClient(sql_repo).get("Patient/p1/$everything")
    assert keys(response, "match") == ["Encounter/e1", "Observation/ob1", "Observation/ob3", "Patient/p1"]
    assert keys(response, "include") == ["Organization/org1", "Practitioner/pr1"]
    assert response.parsed()["total"] == 4
    other = RouterClient(sql_repo).get("Patient/p2/$everything")
    assert keys(other) == ["Observation/ob2", "Patient/p2"]


def test_everything_type_since_and_dates(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    assert keys(client.get("Patient/p1/$everything", query=[("_type", "Observation")]), "match") == \
        ["Observation/ob1", "Observation/ob3"]
    assert keys(client.get("Patient/p1/$everything", query=[("_since", "2999-01-01")]), "match") == []
    # care dates: Observation.date 2024-03-01 is outside 2023, the Patient always stays
    in_2023 = keys(client.get("Patient/p1/$everything", query=[("start", "2023-01-01"), ("end", "2023-12-31")]), "match")
    assert in_2023 == ["Patient/p1"]
    in_2024 = keys(client.get("Patient/p1/$everything", query=[("start", "2024-01-01")]), "match")
    assert "Observation/ob1" in in_2024 and "Encounter/e1" in in_2024


def test_everything_pages(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    first = client.get("Patient/p1/$everything", query=[("_count", "2")])
    seen = keys(first, "match")
    nxt = next(l["url"] for l in first.parsed()["link"] if l["relation"] == "next")
    from urllib.parse import parse_qsl, urlsplit
    second = client.get("Patient/p1/$everything", query=parse_qsl(urlsplit(nxt).query))
    seen += keys(second, "match")
    assert sorted(seen) == ["Encounter/e1", "Observation/ob1", "Observation/ob3", "Patient/p1"]


def test_everything_errors(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    assert client.get("Patient/nobody/$everything").status == 404
    bad = client.get("Patient/p1/$everything", query=[("start", "last-year")])
    assert bad.status == 400 and outcome_of(bad)
    assert client.get("Patient/p1/$everything", query=[("color", "red")]).status == 400
