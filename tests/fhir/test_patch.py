"""JSON Patch (RFC 6902) itself, and the patch interaction (http.html#patch) through the router."""

from __future__ import annotations

import pytest
from router_client import outcome_of, patient

from ehelse.errors import BadRequest, UnprocessableEntity
from ehelse.fhir.jsoncodec import Number
from ehelse.fhir.patch import apply_json_patch, json_equal

DOC = {"resourceType": "Patient", "id": "1", "name": [{"given": ["A", "B"]}], "a/b": {"~": 1}}


@pytest.mark.parametrize("ops,expected", [
    ([{"op": "add", "path": "/active", "value": True}], {**DOC, "active": True}),
    ([{"op": "add", "path": "/name/0/given/1", "value": "X"}], {**DOC, "name": [{"given": ["A", "X", "B"]}]}),
    ([{"op": "add", "path": "/name/0/given/-", "value": "Z"}], {**DOC, "name": [{"given": ["A", "B", "Z"]}]}),
    ([{"op": "remove", "path": "/name/0/given/0"}], {**DOC, "name": [{"given": ["B"]}]}),
    ([{"op": "replace", "path": "/a~1b/~0", "value": 2}], {**DOC, "a/b": {"~": 2}}),
    ([{"op": "move", "from": "/name/0/given/0", "path": "/name/0/given/1"}], {**DOC, "name": [{"given": ["B", "A"]}]}),
    ([{"op": "copy", "from": "/name/0", "path": "/name/-"}], {**DOC, "name": [{"given": ["A", "B"]}] * 2}),
    ([{"op": "test", "path": "/name/0/given", "value": ["A", "B"]}], DOC),
])
def test_operations(ops, expected):
    assert apply_json_patch(DOC, ops) == expected


def test_the_original_is_untouched():
    apply_json_patch(DOC, [{"op": "remove", "path": "/name"}])
    assert DOC["name"] == [{"given": ["A", "B"]}]


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/name/0/given/0", "value": "Q"}],
    [{"op": "remove", "path": "/nothing"}],
    [{"op": "replace", "path": "/name/5", "value": {}}],
    [{"op": "add", "path": "/missing/child", "value": 1}],
    [{"op": "replace", "path": "/id", "value": "2"}],
    [{"op": "remove", "path": "/resourceType"}],
    [{"op": "move", "from": "/name", "path": "/name/0"}],
])
def test_unappliable_patch_is_422(ops):
    with pytest.raises(UnprocessableEntity):
        apply_json_patch(DOC, ops)


@pytest.mark.parametrize("ops", [{"op": "add"}, [{"op": "frobnicate", "path": "/a"}], [{"path": "/a"}],
                                 [{"op": "add", "path": "/a"}], [{"op": "move", "path": "/a"}],
                                 [{"op": "add", "path": "a", "value": 1}]])
def test_malformed_patch_is_400(ops):
    with pytest.raises(BadRequest) as info:
        apply_json_patch(DOC, ops)
    assert info.value.status == 400


def test_numbers_compare_by_value():
    assert json_equal(Number("1.50"), 1.5) and json_equal(1, 1.0)
    assert not json_equal(True, 1) and not json_equal({"a": 1}, {"a": 1, "b": 2})


def test_patch_interaction(client):
    id = client.create(patient())["id"]
    response = client.patch(f"Patient/{id}", [{"op": "add", "path": "/gender", "value": "female"}])
    assert response.status == 200 and response.headers["etag"] == 'W/"2"'
    assert client.get(f"Patient/{id}").parsed()["gender"] == "female"
    failing = client.patch(f"Patient/{id}", [{"op": "test", "path": "/gender", "value": "male"},
                                             {"op": "remove", "path": "/gender"}])
    assert failing.status == 422
    outcome_of(failing)
    assert client.get(f"Patient/{id}").parsed()["gender"] == "female"  # unchanged
    assert client.patch(f"Patient/{id}", [{"op": "replace", "path": "/id", "value": "x"}]).status == 422
    stale = client.patch(f"Patient/{id}", [], headers={"content-type": "application/json-patch+json",
                                                       "if-match": 'W/"1"'})
    assert stale.status == 412
    assert client.patch("Patient/nobody", []).status == 404
    wrong_type = client.patch(f"Patient/{id}", [], headers={"content-type": "application/fhir+json"})
    assert wrong_type.status == 415
