"""Patient/$everything (patient-operation-everything.html): the compartment plus what it
refers to, with start/end, _since, _type and paging."""

from __future__ import annotations

import orjson

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


def _walk(client, query: list[tuple[str, str]]) -> list[dict]:
    """Every page of Patient/$everything from the first, following `next` links."""
    from urllib.parse import parse_qsl, urlsplit

    pages, params = [], query
    while True:
        response = client.get("Patient/$everything", query=params)
        assert response.status == 200, response.parsed()
        pages.append(response.parsed())
        nxt = [l["url"] for l in pages[-1]["link"] if l["relation"] == "next"]
        if not nxt:
            return pages
        assert len(pages) < 50, "paging does not end"
        params = parse_qsl(urlsplit(nxt[0]).query)


def _matches(pages: list[dict]) -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for page in pages
            for e in page.get("entry", []) if e["search"]["mode"] == "match"]


def test_everything_at_type_level_is_every_patients_record(sql_repo):
    # patient-operation-everything.html: GET [base]/Patient/$everything, no nominated
    # patient: the records of all patients the caller may see (here, without an actor, all).
    world(sql_repo)
    client = RouterClient(sql_repo)
    response = client.get("Patient/$everything")
    one_by_one = sorted(keys(client.get("Patient/p1/$everything"), "match")
                        + keys(client.get("Patient/p2/$everything"), "match"))
    assert keys(response, "match") == one_by_one
    assert keys(response, "include") == ["Organization/org1", "Practitioner/pr1"]
    body = response.parsed()
    assert body["type"] == "searchset" and "total" not in body
    assert not [l for l in body["link"] if l["relation"] == "next"]
    # the same parameters as the instance level
    assert keys(client.get("Patient/$everything", query=[("_type", "Observation")]), "match") == \
        ["Observation/ob1", "Observation/ob2", "Observation/ob3"]
    assert keys(client.get("Patient/$everything", query=[("start", "2024-01-01")]), "match") == \
        ["Encounter/e1", "Observation/ob1", "Observation/ob3", "Patient/p1", "Patient/p2"]
    assert keys(client.get("Patient/$everything", query=[("_since", "2999-01-01")])) == []
    posted = client.post("Patient/$everything", {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueCode": "Observation"}]})
    assert keys(posted, "match") == ["Observation/ob1", "Observation/ob2", "Observation/ob3"]
    sql_repo.delete("Patient", "p2")
    assert "Patient/p2" not in keys(client.get("Patient/$everything"))


def test_everything_at_type_level_pages_through_the_records(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    whole = _matches(_walk(client, [("_count", "100")]))
    for count in ("1", "2", "3"):
        pages = _walk(client, [("_count", count)])
        assert all(len([e for e in p.get("entry", []) if e["search"]["mode"] == "match"]) <= int(count)
                   for p in pages)
        found = _matches(pages)
        assert sorted(found) == sorted(whole) and len(found) == len(set(found)) == 6
        assert len(pages) >= 6 // int(count)
    # the links keep the parameters applied, and a page's self link is that page
    pages = _walk(client, [("_count", "2"), ("_type", "Observation,Patient")])
    assert sorted(_matches(pages)) == ["Observation/ob1", "Observation/ob2", "Observation/ob3", "Patient/p1",
                                       "Patient/p2"]
    second = [l["url"] for l in pages[1]["link"] if l["relation"] == "self"][0]
    assert "_type=Observation%2CPatient" in second and "_page=" in second


def test_a_type_level_page_looks_at_a_bounded_number_of_records(sql_repo, monkeypatch):
    # With _type or _since most records may add nothing to a page; it must not walk the
    # whole population to fill one: after PATIENTS_PER_PAGE records the `next` link goes on.
    from ehelse.fhir.operations import everything

    world(sql_repo)
    monkeypatch.setattr(everything, "PATIENTS_PER_PAGE", 1)
    pages = _walk(RouterClient(sql_repo), [("_type", "Observation"), ("_count", "10")])
    assert [sorted(_matches([p])) for p in pages] == [["Observation/ob1", "Observation/ob3"], ["Observation/ob2"], []]


def test_a_patient_updated_during_a_type_level_walk_keeps_its_record(sql_repo):
    """The walk goes by patient id, not by last update: the record of a Patient changed
    between two pages (an address, a phone number) neither drops out of the walk nor comes
    twice (by last update, both Patients' whole records were lost)."""
    from urllib.parse import parse_qsl, urlsplit

    world(sql_repo)
    client = RouterClient(sql_repo)
    whole = sorted(_matches(_walk(client, [("_count", "100")])))
    first = client.get("Patient/$everything", query=[("_count", "1")]).parsed()
    for id in ("p1", "p2"):  # both, whichever the first page came to
        patient = orjson.loads(bytes(sql_repo.read("Patient", id).content))
        patient["gender"] = "other"
        sql_repo.update(patient)
    nxt = next(l["url"] for l in first["link"] if l["relation"] == "next")
    rest = _walk(client, parse_qsl(urlsplit(nxt).query))
    found = _matches([first] + rest)
    assert len(found) == len(set(found))
    # Every other resource of both records comes; the Patients themselves, changed after the
    # walk's snapshot, come only if a page showed them before (search paging: the snapshot).
    assert set(whole) - {"Patient/p1", "Patient/p2"} <= set(found) <= set(whole)
    assert {m for m in whole if not m.startswith("Patient/")}, "the world has records beyond the Patients"


def test_everything_at_type_level_errors(sql_repo):
    world(sql_repo)
    client = RouterClient(sql_repo)
    for query in ([("_type", "Nope")], [("start", "last-year")], [("_since", "yesterday")], [("color", "red")],
                  [("_page", "not-a-token")], [("_page", "WyI5OTk5IiwiIiwiIixbXV0<>\"'")],
                  [("_count", "many")], [("_count", "-1")]):
        response = client.get("Patient/$everything", query=query)
        assert response.status == 400, query
        outcome_of(response)
    # a token of the instance level is not one of the type level's
    first = client.get("Patient/p1/$everything", query=[("_count", "1")]).parsed()
    token = next(l["url"] for l in first["link"] if l["relation"] == "next").split("_page=")[1]
    assert client.get("Patient/$everything", query=[("_page", token)]).status == 400
    assert client.get("Observation/$everything").status == 404  # defined on Patient only
