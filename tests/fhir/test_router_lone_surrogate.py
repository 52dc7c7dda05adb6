"""A lone surrogate in a resource (the JSON escape \\ud800 parses into one) is the client's
error, 400, on every write and every backend: no UTF-8 text can hold it, and the stored
resource is UTF-8 JSON. Before, the encoder's error came out as a 500."""

from __future__ import annotations

import pytest
from router_client import outcome_of

LONE = b'{"resourceType":"Patient","id":"lone","name":[{"family":"a\\ud800b"}]}'


@pytest.mark.parametrize("write", ["create", "update", "transaction", "batch"])
def test_a_lone_surrogate_in_a_resource_is_400_and_nothing_is_stored(client, write):
    if write == "create":
        response = client.post("Patient", LONE)
    elif write == "update":
        response = client.put("Patient/lone", LONE)
    else:
        entry = (b'{"fullUrl":"urn:uuid:6f1c1d9e-4c36-4a4e-9f43-1b1e7f0c2a11","resource":' + LONE
                 + b',"request":{"method":"POST","url":"Patient"}}')
        ok = (b'{"resource":{"resourceType":"Patient","id":"ok","name":[{"family":"ok"}]},'
              b'"request":{"method":"PUT","url":"Patient/ok"}}')
        response = client.post("", b'{"resourceType":"Bundle","type":"' + write.encode() + b'","entry":['
                               + ok + b"," + entry + b"]}")
    # The body itself is not valid Unicode (fhir/jsoncodec.py), so a batch is refused whole
    # too, before any entry runs (http.html#transaction: a Bundle that cannot be processed
    # is a 400), and nothing of it is stored.
    assert response.status == 400, (response.status, response.body[:300])
    assert "lone surrogate" in outcome_of(response)["issue"][0]["diagnostics"]
    assert client.get("Patient/ok").status == 404
    assert client.get("Patient/lone").status == 404
    assert client.get("metadata").status == 200


@pytest.mark.parametrize("path, body", [
    ("ValueSet/$expand", b'{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"\\ud800"}]}'),
    ("CodeSystem/$lookup", b'{"resourceType":"Parameters","parameter":[{"name":"system","valueUri":"\\udfff"},'
                           b'{"name":"code","valueCode":"x"}]}'),
    ("Patient/$validate", b'{"resourceType":"Patient","gender":"\\ud800"}'),
])
def test_a_lone_surrogate_in_an_operations_parameters_is_400(client, path, body):
    """Seen over HTTP: $expand and $lookup quoted the unknown url or system in their
    OperationOutcome, which no encoder could write, a 500. The body is refused at parsing."""
    response = client.post(path, body)
    assert response.status == 400, (response.status, response.body[:300])
    assert "lone surrogate" in outcome_of(response)["issue"][0]["diagnostics"]
