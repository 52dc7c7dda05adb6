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
    if write == "batch":  # each entry on its own: the good one stored, the bad one 400
        assert response.status == 200
        statuses = [e["response"]["status"] for e in response.parsed()["entry"]]
        assert statuses[0].startswith("201") and statuses[1].startswith("400"), statuses
        assert client.get("Patient/ok").status == 200
    else:
        assert response.status == 400, (response.status, response.body[:300])
        outcome_of(response)
        assert client.get("Patient/ok").status == 404  # a transaction: all or nothing
    assert client.get("Patient/lone").status == 404
    assert client.get("metadata").status == 200
