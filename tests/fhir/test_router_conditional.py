"""Conditional create / update / delete / patch (http.html#ccreate, #cond-update, #cdelete) and
_summary / _elements on read (search.html#summary), on every backend."""

from __future__ import annotations

from router_client import outcome_of, patient

SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"


def person(value: str, family: str = "Nordmann") -> dict:
    return patient(family, identifier=[{"system": SYSTEM, "value": value}])


def test_conditional_create(client):
    criteria = {"If-None-Exist": f"identifier={SYSTEM}|1"}
    first = client.post("Patient", person("1"), headers=criteria)
    assert first.status == 201
    again = client.post("Patient", person("1", "Other"), headers=criteria)
    assert again.status == 200 and again.parsed()["id"] == first.parsed()["id"]
    assert again.parsed()["name"][0]["family"] == "Nordmann"  # nothing written
    client.create(person("1"))
    many = client.post("Patient", person("1"), headers=criteria)
    assert many.status == 412
    outcome_of(many)


def test_conditional_update(client):
    query = [("identifier", f"{SYSTEM}|2")]
    created = client.put("Patient", person("2"), query=query)
    assert created.status == 201
    id = created.parsed()["id"]
    updated = client.put("Patient", person("2", "Berg"), query=query)
    assert updated.status == 200 and updated.parsed()["id"] == id
    assert updated.headers["etag"] == 'W/"2"'
    mismatch = client.put("Patient", {**person("2"), "id": "someone-else"}, query=query)
    assert mismatch.status == 400
    with_id = client.put("Patient", {**person("3"), "id": "chosen"}, query=[("identifier", f"{SYSTEM}|3")])
    assert with_id.status == 201 and with_id.parsed()["id"] == "chosen"
    client.create(person("2"))
    assert client.put("Patient", person("2"), query=query).status == 412


def test_conditional_delete(client):
    query = [("identifier", f"{SYSTEM}|4")]
    assert client.delete("Patient", query=query).status == 204  # nothing matched
    id = client.create(person("4"))["id"]
    assert client.delete("Patient", query=query).status == 204
    assert client.get(f"Patient/{id}").status == 410
    client.create(person("5"))
    client.create(person("5"))
    assert client.delete("Patient", query=[("identifier", f"{SYSTEM}|5")]).status == 412


def test_conditional_patch(client):
    id = client.create(person("6"))["id"]
    query = [("identifier", f"{SYSTEM}|6")]
    response = client.patch("Patient", [{"op": "add", "path": "/active", "value": True}], query=query)
    assert response.status == 200 and response.parsed()["id"] == id and response.parsed()["active"] is True
    assert client.patch("Patient", [], query=[("identifier", f"{SYSTEM}|none")]).status == 404


def test_summary_true_keeps_summary_elements_and_marks_subsetted(client):
    id = client.create(patient(text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
                               contact=[{"name": {"family": "X"}}], birthDate="1980-02-03"))["id"]
    body = client.get(f"Patient/{id}", query=[("_summary", "true")]).parsed()
    assert "name" in body and "birthDate" in body
    assert "text" not in body and "contact" not in body
    assert any(tag["code"] == "SUBSETTED" for tag in body["meta"]["tag"])


def test_summary_text_data_and_elements(client):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "puls"},
           "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">puls</div>"},
           "valueQuantity": {"value": 60}, "note": [{"text": "rolig"}]}
    id = client.create(obs)["id"]
    text = client.get(f"Observation/{id}", query=[("_summary", "text")]).parsed()
    assert set(text) == {"resourceType", "id", "meta", "text", "status", "code"}
    data = client.get(f"Observation/{id}", query=[("_summary", "data")]).parsed()
    assert "text" not in data and data["note"] == [{"text": "rolig"}]
    summary = client.get(f"Observation/{id}", query=[("_summary", "true")]).parsed()
    assert summary["valueQuantity"] == {"value": 60} and "note" not in summary  # value[x] is summary
    elements = client.get(f"Observation/{id}", query=[("_elements", "note")]).parsed()
    assert set(elements) == {"resourceType", "id", "meta", "note", "status", "code"}  # + mandatory
    assert client.get(f"Observation/{id}", query=[("_summary", "maybe")]).status == 400
    full = client.get(f"Observation/{id}", query=[("_summary", "false")]).parsed()
    assert "tag" not in full["meta"]
