"""History (http.html#history) and paging links (http.html#paging), on every backend."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from router_client import patient


def links(bundle):
    return {link["relation"]: link["url"] for link in bundle["link"]}


def follow(client, url):
    split = urlsplit(url)
    return client.get(split.path.split("/fhir/", 1)[1], query=parse_qsl(split.query)).parsed()


def test_instance_history_entries(client):
    id = client.create(patient())["id"]
    client.put(f"Patient/{id}", {**patient("B"), "id": id})
    client.delete(f"Patient/{id}")
    bundle = client.get(f"Patient/{id}/_history").parsed()
    assert bundle["type"] == "history" and bundle["total"] == 3
    deleted, updated, created = bundle["entry"]
    assert "resource" not in deleted
    assert deleted["request"] == {"method": "DELETE", "url": f"Patient/{id}"}
    assert updated["request"] == {"method": "PUT", "url": f"Patient/{id}"}
    assert updated["response"]["status"] == "200 OK" and updated["response"]["etag"] == 'W/"2"'
    assert created["request"] == {"method": "POST", "url": "Patient"}
    assert created["response"]["status"] == "201 Created"
    assert created["resource"]["name"][0]["family"] == "Nordmann"
    assert created["fullUrl"].endswith(f"/Patient/{id}")
    assert created["response"]["lastModified"] == created["resource"]["meta"]["lastUpdated"]


def test_type_and_system_history(client):
    client.create(patient())
    client.create({"resourceType": "Organization", "name": "Helse Vest"})
    assert client.get("Patient/_history").parsed()["total"] == 1
    assert client.get("_history").parsed()["total"] == 2
    assert client.get("Patient/unknown/_history").status == 404


def test_history_paging_walks_every_version_once(client):
    id = client.create(patient())["id"]
    for n in range(6):
        client.put(f"Patient/{id}", {**patient(f"V{n}"), "id": id})
    page = client.get(f"Patient/{id}/_history", query=[("_count", "3")]).parsed()
    seen = []
    while True:
        seen += [e["response"]["etag"] for e in page["entry"]]
        if "next" not in links(page):
            break
        page = follow(client, links(page)["next"])
    assert seen == [f'W/"{v}"' for v in range(7, 0, -1)]
    assert "previous" in links(page) and "first" in links(page)


def test_history_since_and_at(client):
    id = client.create(patient())["id"]
    first = client.get(f"Patient/{id}").parsed()["meta"]["lastUpdated"]
    client.put(f"Patient/{id}", {**patient("B"), "id": id})
    assert client.get(f"Patient/{id}/_history", query=[("_since", "2100-01-01")]).parsed()["total"] == 0
    assert client.get(f"Patient/{id}/_history", query=[("_since", "2000-01-01T00:00:00Z")]).parsed()["total"] == 2
    at_first = client.get(f"Patient/{id}/_history", query=[("_at", first)]).parsed()
    assert [e["response"]["etag"] for e in at_first["entry"]] == ['W/"1"']


@pytest.mark.parametrize("name,value", [("_since", "yesterday"), ("_since", "2020-13-01"), ("_at", "2020-02-30"),
                                        ("_count", "-1"), ("_count", "ten"), ("_offset", "x")])
def test_history_bad_parameters_are_400(client, name, value):
    response = client.get("_history", query=[(name, value)])
    assert response.status == 400
    assert response.parsed()["issue"][0]["expression"] == [name]


def test_search_paging_and_count_cap(repo):
    from router_client import RouterClient

    client = RouterClient(repo, max_page_size=4)
    for n in range(5):
        client.create(patient(f"P{n}"))
    first = client.get("Patient", query=[("_count", "2")]).parsed()
    assert first["type"] == "searchset" and first["total"] == 5 and len(first["entry"]) == 2
    ids = [e["resource"]["id"] for e in first["entry"]]
    page = first
    while "next" in links(page):
        page = follow(client, links(page)["next"])
        ids += [e["resource"]["id"] for e in page["entry"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    capped = client.get("Patient", query=[("_count", "100")]).parsed()
    assert len(capped["entry"]) == 4
    counted = client.get("Patient", query=[("_summary", "count")]).parsed()
    assert counted["total"] == 5 and "entry" not in counted
