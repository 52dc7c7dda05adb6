"""A real Synthea transaction Bundle (../shared, skipped when absent) through the router:
every urn:uuid reference is rewritten to a stored resource, on every backend."""

from __future__ import annotations

import json
import re

from router_client import RouterClient


def test_synthea_transaction_resolves_every_reference(repo, shared_dir):
    path = sorted((shared_dir / "data" / "synthea-r4-dev").glob("A*.json"))[0]
    raw = path.read_bytes()
    entries = len(json.loads(raw)["entry"])
    client = RouterClient(repo, validate=True)
    response = client.post("", raw, headers={"Prefer": "return=minimal"})
    assert response.status == 200, response.parsed()
    result = response.parsed()
    assert len(result["entry"]) == entries
    assert all(e["response"]["status"] == "201 Created" for e in result["entry"])
    locations = {e["response"]["location"].split("/_history")[0] for e in result["entry"]}
    stored = b"".join(v.content for v in repo.iter_current())
    assert b"urn:uuid:" not in stored
    references = set(re.findall(rb'"reference":"([A-Za-z]+/[^"]+)"', stored))
    assert references and {r.decode() for r in references} <= locations
