"""Sorting, paging with stable links under concurrent writes, _total and _summary=count
(search.html#sort, #paging, #total, #summary)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from support import RouterClient, bundle_ids, outcome_of


def patients(repo, n: int) -> list[str]:
    for i in range(n):
        repo.update({"resourceType": "Patient", "id": f"p{i:02d}", "gender": "female" if i % 2 else "male",
                     "birthDate": f"19{50 + i % 7}-01-0{1 + i % 3}", "name": [{"family": f"Navn{(i * 7) % n:02d}"}]})
    return [f"p{i:02d}" for i in range(n)]


def link(response, relation: str) -> str | None:
    return next((l["url"] for l in response.parsed()["link"] if l["relation"] == relation), None)


def follow(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path.split("/fhir/", 1)[1], query=parse_qsl(parts.query))


def walk(client, path: str, query: list) -> list[str]:
    response = client.get(path, query=query)
    seen = bundle_ids(response)
    while link(response, "next"):
        response = follow(client, link(response, "next"))
        seen += bundle_ids(response)
    return seen


def test_sort_on_several_parameters_and_directions(sql_repo):
    patients(sql_repo, 14)
    client = RouterClient(sql_repo)
    ids = bundle_ids(client.get("Patient", query=[("_sort", "-birthdate,_id")]))
    births = {v.id: v for v in sql_repo.iter_current("Patient")}
    import json
    keys = [(json.loads(births[i].content)["birthDate"], i) for i in ids]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    for a, b in zip(keys, keys[1:]):  # ties broken by _id ascending
        assert a[0] != b[0] or a[1] < b[1]
    by_family = bundle_ids(client.get("Patient", query=[("_sort", "family")]))
    families = [json.loads(births[i].content)["name"][0]["family"] for i in by_family]
    assert families == sorted(families)
    assert client.get("Patient", query=[("_sort", "nonsense")]).status == 400


def test_resources_without_a_value_sort_last_in_both_directions(sql_repo):
    """search.html#sort leaves missing values to the server; here they come last either way."""
    patients(sql_repo, 6)
    for i in range(2):
        sql_repo.update({"resourceType": "Patient", "id": f"nobirth{i}", "gender": "other"})
    client = RouterClient(sql_repo)
    for order in ("birthdate", "-birthdate"):
        ids = bundle_ids(client.get("Patient", query=[("_sort", order)]))
        assert len(ids) == 8 and ids[-2:] == ["nobirth0", "nobirth1"], (order, ids)
        dated = ids[:-2]
        births = {v.id: v.content for v in sql_repo.iter_current("Patient")}
        import json
        values = [json.loads(births[i])["birthDate"] for i in dated]
        assert values == sorted(values, reverse=order.startswith("-")), (order, values)


def test_paging_visits_every_match_once(sql_repo):
    ids = patients(sql_repo, 23)
    client = RouterClient(sql_repo)
    assert walk(client, "Patient", [("_count", "5")]) == sorted(ids, key=ids.index)
    sorted_walk = walk(client, "Patient", [("_count", "4"), ("_sort", "gender,-_id")])
    assert sorted(sorted_walk) == sorted(ids) and len(sorted_walk) == 23


def test_pages_survive_concurrent_writes(sql_repo):
    patients(sql_repo, 12)
    client = RouterClient(sql_repo)
    first = client.get("Patient", query=[("_count", "4")])
    seen = bundle_ids(first)
    # Meanwhile: a new patient, an update of one not yet seen, a deletion of one seen.
    sql_repo.update({"resourceType": "Patient", "id": "new", "gender": "other"})
    sql_repo.update({"resourceType": "Patient", "id": "p11", "gender": "other"})
    sql_repo.delete("Patient", seen[0])
    response = follow(client, link(first, "next"))
    seen += bundle_ids(response)
    while link(response, "next"):
        response = follow(client, link(response, "next"))
        seen += bundle_ids(response)
    # No row twice, none shifted past: the deletion does not skip one, the new and the
    # updated resource (after the snapshot) do not appear.
    assert len(seen) == len(set(seen))
    assert set(seen) == {f"p{i:02d}" for i in range(11)}


def test_previous_link_and_last(sql_repo):
    patients(sql_repo, 10)
    client = RouterClient(sql_repo)
    first = client.get("Patient", query=[("_count", "3")])
    second = follow(client, link(first, "next"))
    back = follow(client, link(second, "previous"))
    assert bundle_ids(back) == bundle_ids(first)
    last = follow(client, link(first, "last"))
    assert len(bundle_ids(last)) == 1


def test_total_modes_and_summary_count(sql_repo):
    patients(sql_repo, 9)
    client = RouterClient(sql_repo)
    assert client.get("Patient", query=[("_count", "2")]).parsed()["total"] == 9
    assert "total" not in client.get("Patient", query=[("_count", "2"), ("_total", "none")]).parsed()
    estimate = client.get("Patient", query=[("_count", "2"), ("_total", "estimate")]).parsed()["total"]
    assert isinstance(estimate, int) and estimate >= 0
    counted = client.get("Patient", query=[("gender", "male"), ("_summary", "count")]).parsed()
    assert counted["total"] == 5 and "entry" not in counted


def test_elements_and_summary_on_results(sql_repo):
    patients(sql_repo, 2)
    client = RouterClient(sql_repo)
    body = client.get("Patient", query=[("_elements", "gender")]).parsed()
    resource = body["entry"][0]["resource"]
    assert "gender" in resource and "birthDate" not in resource and "name" not in resource
    assert any(t.get("code") == "SUBSETTED" for t in resource["meta"]["tag"])


@pytest.mark.parametrize("token", ["garbage", "W10", "WyJ4IiwtMV0"])
def test_forged_page_token_is_400(sql_repo, token):
    response = RouterClient(sql_repo).get("Patient", query=[("_page", token)])
    assert response.status == 400 and outcome_of(response)


def test_link_query_text_is_urlencode():
    """fhir/paging.py writes a link's parameters without quoting what needs none: the text
    must be urlencode's for any parameters (Norwegian letters, reserved characters, spaces)."""
    import random
    import string
    from urllib.parse import urlencode

    from ehelse.fhir.paging import _query

    rng = random.Random(5)
    alphabet = string.printable + "æøåÆØÅé€ "
    for _ in range(3000):
        params = [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))),
                   "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))) for _ in range(rng.randint(1, 4))]
        assert _query(params) == urlencode(params), params
    assert _query([("family", "østby"), ("_id", "a-b_c.d~e")]) == "family=%C3%B8stby&_id=a-b_c.d~e"


@pytest.mark.parametrize("subset", [("_elements", "gender"), ("_summary", "true")])
def test_every_page_keeps_elements_and_summary(sql_repo, subset):
    """The paging links continue the same search (search.html#paging): a subset asked for
    with _elements or _summary is on every page, not only the first (maritalStatus is
    neither the element asked for nor a summary element of Patient)."""
    for i in range(5):
        sql_repo.update({"resourceType": "Patient", "id": f"p{i}", "gender": "female",
                         "maritalStatus": {"text": "Gift"}})
    client = RouterClient(sql_repo)
    response = client.get("Patient", query=[subset, ("_count", "2")])
    pages = 0
    while True:
        pages += 1
        for entry in response.parsed()["entry"]:
            resource = entry["resource"]
            assert resource["gender"] == "female" and "maritalStatus" not in resource, (pages, resource)
            assert "SUBSETTED" in [t["code"] for t in resource["meta"].get("tag", [])]
        assert subset[0] + "=" in link(response, "self")
        if not link(response, "next"):
            break
        response = follow(client, link(response, "next"))
    assert pages == 3
