"""SMART Backend Services: client_credentials with a private_key_jwt client assertion
(RFC 7523, backend-services.html): good assertion, wrong key, expired, replayed jti, a JWKS
URL on loopback, system scopes only."""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from oauth_flow import BASE, LoopbackServer, introspect, json_app

from ehelse.oauth import clients
from ehelse.oauth.clients import ASSERTION_TYPE

pytestmark = pytest.mark.anyio
TOKEN_URL = f"{BASE}/oauth2/token"


@pytest.fixture
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture
def backend(store, key):
    client, _ = clients.register(store, name="Eksport", redirect_uris=[], client_id="exporter",
                                 scope="system/*.rs system/Observation.c", auth_method="private_key_jwt",
                                 jwks={"keys": [key.as_dict(private=False)]})
    return client


def assertion(key, *, client_id="exporter", aud=TOKEN_URL, exp_in=240, jti=None, alg="RS384") -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "iat": now,
              "jti": jti or uuid.uuid4().hex}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


async def _token(browser, signed: str, scope: str = "system/*.rs"):
    return await browser.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": scope,
                                                     "client_assertion_type": ASSERTION_TYPE,
                                                     "client_assertion": signed})


async def test_good_assertion_gets_a_system_token(browser, backend, key):
    r = await _token(browser, assertion(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "system/*.rs" and "refresh_token" not in body
    claims = await introspect(browser, body["access_token"], body["access_token"])
    assert claims["ehelse_actor"] == "system:exporter" and claims["client_id"] == "exporter"
    fhir = await browser.get("/fhir/Observation/kari-bp", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert fhir.status_code != 401


async def test_wrong_key_refused(browser, backend):
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    r = await _token(browser, assertion(other))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_expired_assertion_refused(browser, backend, key):
    r = await _token(browser, assertion(key, exp_in=-10))
    assert r.status_code == 401 and "expired" in r.json()["error_description"]


async def test_long_lived_assertion_refused(browser, backend, key):
    r = await _token(browser, assertion(key, exp_in=3600))
    assert r.status_code == 401


async def test_replayed_jti_refused(browser, backend, key):
    signed = assertion(key, jti="once")
    assert (await _token(browser, signed)).status_code == 200
    again = await _token(browser, signed)
    assert again.status_code == 401 and "replay" in again.json()["error_description"]


async def test_wrong_audience_refused(browser, backend, key):
    r = await _token(browser, assertion(key, aud="https://elsewhere.example/token"))
    assert r.status_code == 401


async def test_scope_escalation_refused(browser, backend, key):
    r = await _token(browser, assertion(key), scope="system/*.cruds")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = await _token(browser, assertion(key), scope="patient/*.rs")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


async def test_alg_none_assertion_refused(browser, backend):
    import base64
    import json

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    forged = f"{b64({'alg': 'none'})}.{b64({'iss': 'exporter', 'sub': 'exporter', 'aud': TOKEN_URL, 'exp': now + 60, 'jti': 'x'})}."
    assert (await _token(browser, forged)).status_code == 401


async def test_public_client_cannot_use_client_credentials(browser, public_client):
    r = await browser.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": "testapp"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


async def test_jwks_uri_on_loopback(browser, store):
    key = ECKey.generate_key("P-384", parameters={"kid": "e1"})
    with LoopbackServer(json_app({"/jwks.json": {"keys": [key.as_dict(private=False)]}})) as jwks_server:
        clients.register(store, name="url", redirect_uris=[], client_id="urlclient", scope="system/*.rs",
                         auth_method="private_key_jwt", jwks_uri=f"{jwks_server.url}/jwks.json")
        r = await _token(browser, assertion(key, client_id="urlclient", alg="ES384"))
    assert r.status_code == 200, r.text


def test_jwks_uri_must_be_https_off_loopback(store):
    from ehelse.oauth.errors import OAuthError

    with pytest.raises(OAuthError):
        clients.register(store, name="x", redirect_uris=[], scope="system/*.rs", auth_method="private_key_jwt",
                         jwks_uri="http://example.com/jwks.json")
