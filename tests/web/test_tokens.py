"""ehelse.access.tokens: keys from the database or a key file, claims, and the cache that
keeps verification off the per-request path."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import ECKey, RSAKey

from ehelse.access.tokens import TokenService, actor_from_claims
from ehelse.errors import BadRequest, Unauthorized
from ehelse.settings import Settings
from ehelse.storage.memory import MemoryRepository


def _service(repo=None, **overrides) -> TokenService:
    return TokenService(Settings.from_env({}, **overrides), repo or MemoryRepository())


def test_first_token_makes_and_stores_one_key():
    repo = MemoryRepository()
    service = _service(repo)
    service.issue("admin")
    service.issue("admin")
    keys = repo.signing_keys()
    assert len(keys) == 1 and keys[0]["kid"] and keys[0]["kty"] == "EC" and "d" in keys[0]


def test_another_process_verifies_with_the_stored_key():
    repo = MemoryRepository()
    token = _service(repo).issue("patient:12345678901", for_patient="01010112345")
    actor = _service(repo).verify(token)  # a fresh service: loads keys from the database
    assert (actor.kind, actor.subject, actor.patient) == ("patient", "12345678901", "01010112345")
    assert "patient/*.read" in actor.scopes
    assert actor.claims["fhirUser"].endswith("|12345678901")


@pytest.mark.parametrize("key", [ECKey.generate_key("P-256"), RSAKey.generate_key(2048)], ids=["ec", "rsa"])
def test_key_file(tmp_path, key):
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.as_pem(private=True))
    repo = MemoryRepository()
    service = _service(repo, key_file=str(pem))
    token = service.issue("admin")
    assert repo.signing_keys() == []  # nothing written to the database
    assert _service(MemoryRepository(), key_file=str(pem)).verify(token).is_admin
    with pytest.raises(Unauthorized):
        _service(repo).verify(token)  # without the file, the key is unknown


def test_issuer_and_audience_follow_base_url():
    service = _service(base_url="https://fhir.example.no")
    assert service.issuer == "https://fhir.example.no/oauth2"
    assert service.audience == "https://fhir.example.no/fhir"
    assert _service(token_audience="urn:x").audience == "urn:x"


def test_verification_is_cached_by_token_string(monkeypatch):
    service = _service()
    token = service.issue("admin")
    service.verify(token)
    calls = []
    monkeypatch.setattr(service, "_verify", lambda *a: calls.append(a))
    for _ in range(1000):
        assert service.verify(token).is_admin
    assert calls == []  # a dict look-up, not an ES256 verification (its cost: bench/)


@pytest.mark.parametrize("actor", ["root", "patient:", "practitioner", "practitioner:"])
def test_bad_actor(actor):
    with pytest.raises(BadRequest):
        _service().issue(actor)


def test_claims_without_actor_are_rejected():
    with pytest.raises(Unauthorized):
        actor_from_claims({"sub": "x", "exp": time.time() + 60})


def test_cached_token_is_checked_for_the_audience_of_each_request():
    service = _service(token_audience="urn:other")
    token = service.issue("admin", audience="http://a.example/fhir")
    assert service.verify(token, "http://a.example/fhir").is_admin  # verified, now cached
    with pytest.raises(Unauthorized, match="audience"):
        service.verify(token, "http://b.example/fhir")  # the cache does not widen the audience
    assert service.verify(token, "http://a.example/fhir").is_admin


def test_cached_token_dies_with_its_exp(monkeypatch):
    service = _service()
    token = service.issue("admin", lifetime=60)
    assert service.verify(token).is_admin
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(token)
    assert token not in service._cache


def test_a_token_that_failed_verification_is_never_cached():
    service = _service()
    token = service.issue("admin")
    header, claims, signature = token.split(".")
    forged = f"{header}.{claims}.{signature[:-4]}AAAA"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            service.verify(forged)
    assert forged not in service._cache
    assert service.verify(token).is_admin


def test_cache_is_bounded_and_drops_the_oldest(monkeypatch):
    import ehelse.access.tokens as tokens

    monkeypatch.setattr(tokens, "_CACHE_LIMIT", 3)
    service = _service()
    issued = [service.issue("admin") for _ in range(5)]
    for token in issued:
        service.verify(token)
    assert list(service._cache) == issued[2:]
