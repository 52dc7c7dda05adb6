"""`_contained` and `_containedType` (search.html#contained) through the router on both SQL
backends: the default search does not see contained resources; `true` searches only them,
`both` them and the ordinary ones; `container` returns containers, `contained` the
contained resources with `<container url>#<id>` as fullUrl."""

from __future__ import annotations

from support import RouterClient, bundle_ids

ATC = "http://www.whocc.no/atc"


def _med(code: str, id: str | None = None) -> dict:
    out = {"resourceType": "Medication", "code": {"coding": [{"system": ATC, "code": code}]}}
    return {**out, "id": id} if id else out


def _request(id: str, contained: list[dict]) -> dict:
    return {"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/p1"}, "contained": contained,
            "medicationReference": {"reference": "#" + contained[0]["id"]}}


def _load(repo) -> RouterClient:
    repo.update(_request("mr1", [_med("A02BC01", "m")]))
    repo.update(_request("mr2", [_med("C07AB02", "m"), _med("A02BC01", "extra")]))
    repo.update(_med("A02BC01", "standalone"))
    return RouterClient(repo)


def test_default_search_ignores_contained_resources(sql_repo):
    client = _load(sql_repo)
    assert bundle_ids(client.get("Medication", query=[("code", f"{ATC}|A02BC01")])) == ["standalone"]
    assert bundle_ids(client.get("Medication", query=[("code", "A02BC01"), ("_contained", "false")])) == \
        ["standalone"]


def test_contained_true_returns_the_containers(sql_repo):
    client = _load(sql_repo)
    response = client.get("Medication", query=[("code", f"{ATC}|A02BC01"), ("_contained", "true")])
    assert sorted(bundle_ids(response)) == ["mr1", "mr2"]
    body = response.parsed()
    assert body["total"] == 2
    assert "_contained=true" in body["link"][0]["url"]  # applied, so the self link says so
    only_c07 = client.get("Medication", query=[("code", "C07AB02"), ("_contained", "true")])
    assert bundle_ids(only_c07) == ["mr2"]


def test_contained_type_contained_returns_the_contained_resources(sql_repo):
    client = _load(sql_repo)
    response = client.get("Medication", query=[("code", "A02BC01"), ("_contained", "true"),
                                               ("_containedType", "contained")])
    assert response.status == 200, response.parsed()
    body = response.parsed()
    urls = sorted(e["fullUrl"].rsplit("/", 2)[-2] + "/" + e["fullUrl"].rsplit("/", 1)[-1] for e in body["entry"])
    assert urls == ["MedicationRequest/mr1#m", "MedicationRequest/mr2#extra"]
    assert {e["resource"]["resourceType"] for e in body["entry"]} == {"Medication"}
    assert {e["resource"]["id"] for e in body["entry"]} == {"m", "extra"}  # as stored, not renamed


def test_contained_both(sql_repo):
    client = _load(sql_repo)
    response = client.get("Medication", query=[("code", "A02BC01"), ("_contained", "both")])
    assert sorted(bundle_ids(response)) == ["mr1", "mr2", "standalone"]
    assert response.parsed()["total"] == 3


def test_contained_bad_values_are_400(sql_repo):
    client = _load(sql_repo)
    for query in ([("_contained", "maybe")], [("_containedType", "inside")],
                  [("code:below", "A02"), ("_contained", "true")],  # :below needs system|code
                  [("_content", "-"), ("_contained", "true")]):  # no words
        response = client.get("Medication", query=query)
        assert response.status == 400, (query, response.parsed())
        assert response.parsed()["resourceType"] == "OperationOutcome", query


def test_full_text_inside_contained_resources(sql_repo):
    """The reference evaluator's full-text rule (search/fulltext.py) applies inside too."""
    client = _load(sql_repo)
    sql_repo.update(_request("mr3", [{"resourceType": "Medication", "id": "m",
                                      "code": {"text": "Omeprazol enterotabletter"}}]))
    assert bundle_ids(client.get("Medication", query=[("_content", "enterotablett"), ("_contained", "true")])) == \
        ["mr3"]
    assert bundle_ids(client.get("Medication", query=[("_content", "enterotablett")])) == []
