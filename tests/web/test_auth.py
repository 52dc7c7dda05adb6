"""Every /fhir request but metadata needs a valid bearer token: 401 OperationOutcome with
WWW-Authenticate otherwise (RFC 6750 section 3); non-admin actors get 403 until the trust
issue brings access rules."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from ehelse.access.tokens import TokenService, new_signing_key

pytestmark = pytest.mark.anyio


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def _status(client, token: str | None) -> tuple[int, dict, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {"Authorization": ""}
    r = await client.get("/fhir/Patient/x", headers=headers)
    return r.status_code, r.json(), r.headers.get("www-authenticate", "")


async def _assert_401(client, token: str | None, why: str | None = None) -> None:
    status, body, challenge = await _status(client, token)
    assert status == 401
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"
    assert challenge.startswith("Bearer")
    if why:
        assert why in body["issue"][0]["diagnostics"]


async def test_missing_token(client):
    await _assert_401(client, None)


async def test_not_bearer_scheme(client):
    r = await client.get("/fhir/Patient/x", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


async def test_garbage_token(client):
    await _assert_401(client, "not-a-jwt", "not a signed JWT")


async def test_valid_admin_token_passes(client, memory_repo):
    memory_repo.create({"resourceType": "Patient", "gender": "male"}, id="x")
    r = await client.get("/fhir/Patient/x")
    assert r.status_code == 200
    assert r.json()["id"] == "x"


async def test_metadata_needs_no_token(client):
    r = await client.get("/fhir/metadata", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.json()["resourceType"] == "CapabilityStatement"


async def test_forged_signature(client, tokens, admin_token):
    # Same header and claims, signed by a key this deployment does not have, same kid.
    header, claims = (orjson.loads(base64.urlsafe_b64decode(p + "==")) for p in admin_token.split(".")[:2])
    forged = jwt.encode(header, claims, ECKey.generate_key("P-256"), algorithms=["ES256"])
    await _assert_401(client, forged, "bad signature")


async def test_tampered_claims(client, admin_token):
    header, payload, signature = admin_token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    await _assert_401(client, f"{header}.{_b64(claims)}.{signature}", "bad signature")


async def test_alg_none_rejected(client, admin_token):
    header, payload, _ = admin_token.split(".")
    kid = orjson.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    await _assert_401(client, f"{_b64({'alg': 'none', 'kid': kid})}.{payload}.", "not accepted")


async def test_hs256_with_public_key_rejected(client, admin_token):
    header, payload, signature = admin_token.split(".")
    kid = orjson.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    await _assert_401(client, f"{_b64({'alg': 'HS256', 'kid': kid})}.{payload}.{signature}", "not accepted")


async def test_unknown_kid(client, admin_token):
    header, payload, signature = admin_token.split(".")
    await _assert_401(client, f"{_b64({'alg': 'ES256', 'kid': 'nope'})}.{payload}.{signature}", "unknown signing key")


async def test_expired(client, tokens):
    await _assert_401(client, tokens.issue("admin", lifetime=-10), "expired")


async def test_expired_after_caching(client, tokens, monkeypatch):
    token = tokens.issue("admin", lifetime=60)
    assert (await _status(client, token))[0] != 401  # verified and cached
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    await _assert_401(client, token, "expired")


async def test_wrong_issuer(client, settings, memory_repo):
    other = TokenService(settings, memory_repo)
    other.issuer = "https://evil.example"
    await _assert_401(client, other.issue("admin"), "wrong issuer")


async def test_wrong_audience(client, tokens):
    await _assert_401(client, tokens.issue("admin", audience="https://other.example/fhir"), "wrong audience")


async def test_request_base_url_is_an_accepted_audience(client, tokens, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="x")
    token = tokens.issue("admin", audience="http://testserver/fhir")
    assert (await _status(client, token))[0] == 200


async def test_key_from_another_database_rejected(client, settings):
    from ehelse.storage.memory import MemoryRepository

    stranger = TokenService(settings, MemoryRepository())
    await _assert_401(client, stranger.issue("admin"), "unknown signing key")


async def test_key_added_by_another_process_is_found(client, tokens, memory_repo, monkeypatch):
    # A key written to the database after this process loaded its keys (key rotation, or
    # `ehelse token` against a fresh database) is picked up on first sight of its kid.
    tokens.signing_key()
    memory_repo.add_signing_key(new_signing_key())
    other = TokenService(tokens.settings, memory_repo)
    token = other.issue("admin")
    monkeypatch.setattr("ehelse.access.tokens._RELOAD_INTERVAL", 0.0)
    memory_repo.create({"resourceType": "Patient"}, id="x")
    assert (await _status(client, token))[0] == 200


async def test_non_admin_default_deny(client, tokens, memory_repo):
    # The access rules (access/repository.py): a citizen gets 404 for what is not theirs;
    # personnel without a care relationship get 403 for a patient's clinical data.
    memory_repo.create({"resourceType": "Patient"}, id="x")
    memory_repo.create({"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                        "subject": {"reference": "Patient/x"}}, id="o")
    status, body, _ = await _status(client, tokens.issue("patient:12345678901"))
    assert status == 404
    r = await client.get("/fhir/Observation/o", headers={"Authorization": f"Bearer {tokens.issue('practitioner:9144889')}"})
    assert r.status_code == 403
    assert r.json()["issue"][0]["code"] == "forbidden"
