"""A revoked token (RFC 7009, by jti) gets 401 at /fhir, also after it was cached, and in
every process sharing the database within the revocation list's refresh interval."""

from __future__ import annotations

import time

import pytest

from ehelse.access.tokens import TokenService

pytestmark = pytest.mark.anyio


async def _status(client, token: str) -> tuple[int, dict]:
    r = await client.get("/fhir/Patient/x", headers={"Authorization": f"Bearer {token}"})
    return r.status_code, r.json()


async def test_revoked_token_refused_even_when_cached(client, tokens, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="x")
    token = tokens.issue("admin")
    assert (await _status(client, token))[0] == 200  # verified and cached
    tokens.revocations.add(tokens.verify(token).token_id, time.time() + 3600)
    status, body = await _status(client, token)
    assert status == 401
    assert body["issue"][0]["code"] == "login" and "revoked" in body["issue"][0]["diagnostics"]


async def test_other_tokens_unaffected(client, tokens, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="x")
    revoked, kept = tokens.issue("admin"), tokens.issue("admin")
    tokens.revocations.add(tokens.verify(revoked).token_id, time.time() + 3600)
    assert (await _status(client, kept))[0] == 200


async def test_revocation_by_another_process(client, tokens, settings, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="x")
    token = tokens.issue("admin")
    assert (await _status(client, token))[0] == 200
    other = TokenService(settings, memory_repo)  # another process on the same database
    other.revocations.add(other.verify(token).token_id, time.time() + 3600)
    tokens.revocations.interval = 0.05  # the bound (2 s by default), shortened for the test
    time.sleep(0.1)
    assert (await _status(client, token))[0] == 401


async def test_security_headers_on_fhir_responses(client):
    r = await client.get("/fhir/metadata")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cross-origin-opener-policy"] == "same-origin"
    assert "strict-transport-security" not in r.headers


async def test_smart_configuration_is_open(client):
    r = await client.get("/fhir/.well-known/smart-configuration", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["code_challenge_methods_supported"] == ["S256"]
