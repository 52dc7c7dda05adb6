"""Discovery, JWKS, introspection, revocation (seen by every process), dynamic
registration on and off, and key rotation."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from oauth_flow import BASE, REDIRECT, authorize_citizen, exchange, introspect, make_settings

from ehelse.access.tokens import TokenService
from ehelse.oauth import clients
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


async def test_smart_configuration_needs_no_token(browser):
    r = await browser.get("/fhir/.well-known/smart-configuration")
    assert r.status_code == 200
    config = r.json()
    assert config["authorization_endpoint"] == f"{BASE}/oauth2/authorize"
    assert config["token_endpoint"] == f"{BASE}/oauth2/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "launch-standalone", "permission-v2", "permission-v1", "sso-openid-connect",
            "client-confidential-asymmetric", "permission-offline"} <= set(config["capabilities"])
    assert "registration_endpoint" not in config  # off by default
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]


async def test_openid_configuration_and_jwks(browser, app):
    config = (await browser.get("/.well-known/openid-configuration")).json()
    assert config["jwks_uri"] == f"{BASE}/oauth2/jwks" and config["issuer"] == app.state.tokens.issuer
    keys = (await browser.get("/oauth2/jwks")).json()["keys"]
    assert keys and all("d" not in k for k in keys)  # public parts only
    assert keys[0]["kid"] == app.state.tokens.signing_key().kid


async def test_key_rotation_old_tokens_verify_new_use_new_kid(browser, app, repo, public_client, monkeypatch):
    tokens = app.state.tokens
    old_token = tokens.issue("admin")
    old_kid = tokens.signing_key().kid
    from ehelse.access.tokens import new_signing_key

    repo.add_signing_key(new_signing_key())  # what `ehelse keys rotate` does
    monkeypatch.setattr("ehelse.access.tokens._SIGNING_REFRESH", 0.0)
    new_token = tokens.issue("admin")
    assert jwt.decode(new_token, tokens.signing_key()).header["kid"] != old_kid
    kids = [k["kid"] for k in (await browser.get("/oauth2/jwks")).json()["keys"]]
    assert len(kids) == 2 and old_kid in kids
    for token in (old_token, new_token):
        r = await browser.get("/fhir/Patient/demo-kari", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200


async def test_introspection_needs_an_authenticated_caller(browser, public_client):
    code, verifier = await authorize_citizen(browser)
    body = (await exchange(browser, code, verifier)).json()
    r = await browser.post("/oauth2/introspect", data={"token": body["access_token"], "client_id": "testapp"})
    assert r.status_code == 401  # a public client cannot introspect
    assert (await introspect(browser, "garbage.token.here", body["access_token"])) == {"active": False}


async def test_introspection_by_a_confidential_client(browser, store, public_client):
    _, secret = clients.register(store, name="rs", redirect_uris=[REDIRECT], client_id="rs", scope="openid",
                                 auth_method="client_secret_basic")
    code, verifier = await authorize_citizen(browser)
    body = (await exchange(browser, code, verifier)).json()
    r = await browser.post("/oauth2/introspect", data={"token": body["access_token"]}, auth=("rs", secret))
    assert r.status_code == 200 and r.json()["active"] is True and r.json()["scope"] == body["scope"]
    bad = await browser.post("/oauth2/introspect", data={"token": body["access_token"]}, auth=("rs", "wrong"))
    assert bad.status_code == 401


async def test_revoked_access_token_gets_401_in_this_and_another_process(browser, public_client, settings, repo, app):
    code, verifier = await authorize_citizen(browser)
    body = (await exchange(browser, code, verifier)).json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    # Another server process on the same database, which has seen (and cached) the token.
    other = create_app(settings, repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=BASE) as second:
        assert (await second.get("/fhir/Patient/demo-kari", headers=auth)).status_code != 401
        r = await browser.post("/oauth2/revoke", data={"token": body["access_token"], "client_id": "testapp"})
        assert r.status_code == 200
        assert (await browser.get("/fhir/Patient/demo-kari", headers=auth)).status_code == 401
        assert (await introspect(browser, body["access_token"], app.state.tokens.issue("admin"))) == {"active": False}
        other.state.tokens.revocations.refresh()  # what happens by itself within 2 s
        r = await second.get("/fhir/Patient/demo-kari", headers=auth)
        assert r.status_code == 401 and "revoked" in r.json()["issue"][0]["diagnostics"]


async def test_revocation_bound_is_seconds(settings, repo):
    # Without forcing a refresh: another process's list notices within its interval.
    import time

    one, two = TokenService(settings, repo), TokenService(settings, repo)
    token = one.issue("admin")
    two.verify(token)
    two.revocations.interval = 0.2
    one.revocations.add(one.verify(token).token_id, time.time() + 60)
    time.sleep(0.25)
    with pytest.raises(Exception, match="revoked"):
        two.verify(token)


async def test_a_client_cannot_revoke_another_clients_token(browser, public_client, store):
    clients.register(store, name="other", redirect_uris=[REDIRECT], client_id="other", scope="openid")
    code, verifier = await authorize_citizen(browser)
    body = (await exchange(browser, code, verifier)).json()
    await browser.post("/oauth2/revoke", data={"token": body["access_token"], "client_id": "other"})
    r = await browser.get("/fhir/Patient/demo-kari", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code != 401


async def test_dynamic_registration_off_by_default(browser):
    r = await browser.post("/oauth2/register", json={"redirect_uris": [REDIRECT]})
    assert r.status_code == 404


async def test_dynamic_registration_on(db_url, repo):
    app = create_app(make_settings(db_url, dynamic_registration=True), repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        config = (await c.get("/fhir/.well-known/smart-configuration")).json()
        assert config["registration_endpoint"] == f"{BASE}/oauth2/register"
        r = await c.post("/oauth2/register", json={"client_name": "Ny app", "redirect_uris": [REDIRECT],
                                                   "token_endpoint_auth_method": "client_secret_basic",
                                                   "scope": "openid patient/*.rs"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["client_id"] and body["client_secret"] and body["scope"] == "openid patient/*.rs"
        bad = await c.post("/oauth2/register", json={"redirect_uris": ["http://evil.example/cb"]})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"
        junk = await c.post("/oauth2/register", content=b"[1,2]")
        assert junk.status_code == 400


async def test_userinfo(browser, public_client):
    code, verifier = await authorize_citizen(browser)
    body = (await exchange(browser, code, verifier)).json()
    r = await browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200 and r.json()["fhirUser"] == "Patient/demo-kari"
    assert (await browser.get("/oauth2/userinfo")).status_code == 401


async def test_unsupported_grant_type(browser, public_client):
    r = await browser.post("/oauth2/token", data={"grant_type": "password", "client_id": "testapp"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


async def test_unknown_client_at_token_endpoint(browser):
    r = await browser.post("/oauth2/token", data={"grant_type": "authorization_code", "client_id": "nobody"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
