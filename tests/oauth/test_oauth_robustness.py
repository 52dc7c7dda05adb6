"""Hostile or broken input to every OAuth endpoint gets a 4xx, never a 500."""

from __future__ import annotations

import httpx
import pytest
from oauth_flow import BASE, make_settings

from ehelse.oauth.clients import ASSERTION_TYPE
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio

CASES = [
    ("GET", "/oauth2/authorize", {}, None),
    ("GET", "/oauth2/authorize?client_id=testapp&response_type=token", {}, None),
    ("GET", "/oauth2/authorize?client_id=testapp&scope=%00%ff&code_challenge=x&code_challenge_method=S256", {}, None),
    ("POST", "/oauth2/token", {}, b""),
    ("POST", "/oauth2/token", {"content-type": "application/x-www-form-urlencoded"}, b"\xff\xfe=\x00"),
    ("POST", "/oauth2/token", {"authorization": "Basic !!!"}, b"grant_type=client_credentials"),
    ("POST", "/oauth2/token", {"authorization": "Basic Zm9v"}, b"grant_type=client_credentials"),
    ("POST", "/oauth2/token", {}, f"client_assertion_type={ASSERTION_TYPE}&client_assertion=a.b.c".encode()),
    ("POST", "/oauth2/token", {}, f"client_assertion_type={ASSERTION_TYPE}&client_assertion=eyJ9.eyJ9.x".encode()),
    ("POST", "/oauth2/token", {}, b"grant_type=authorization_code&client_id=testapp&code=nope"),
    ("POST", "/oauth2/token", {}, b"grant_type=refresh_token&client_id=testapp&refresh_token=nope&scope=%%%"),
    ("POST", "/oauth2/introspect", {}, b"token=x"),
    ("POST", "/oauth2/introspect", {"authorization": "Bearer nope"}, b"token=x"),
    ("POST", "/oauth2/revoke", {}, b"token=x"),
    ("POST", "/oauth2/revoke", {}, b"token=a.b.c&client_id=testapp"),
    ("POST", "/oauth2/register", {}, b"{}"),
    ("GET", "/oauth2/userinfo", {"authorization": "Bearer a.b.c"}, None),
    ("GET", "/oauth2/picker", {}, None),
    ("POST", "/oauth2/picker", {}, b"patient=x"),
    ("GET", "/oauth2/consent", {}, None),
    ("POST", "/oauth2/consent", {}, b"decision=approve"),
    ("POST", "/login/idporten", {}, b"pid=" + b"9" * 5000),
    ("POST", "/login/helseid", {}, b"hpr=abc&orgnr=1&purpose=NOPE"),
    ("GET", "/login/idporten?q=%00", {}, None),
    ("GET", "/login/external/nowhere", {}, None),
    ("GET", "/login/callback?code=x&state=y", {}, None),
    ("POST", "/login/logout", {}, b""),
    ("GET", "/oauth2/nothing-here", {}, None),
]
REGISTRATIONS = [b"[]", b"not json", b'{"redirect_uris": "https://a.example/cb"}',
                 b'{"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "magic"}',
                 b'{"redirect_uris": [], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC"}]}}',
                 b'{"redirect_uris": ["https://a.example/cb"], "scope": 5}',
                 b'{"redirect_uris": ["javascript:alert(1)"]}']


@pytest.mark.parametrize("method, path, headers, body", CASES, ids=[f"{m} {p[:50]}" for m, p, _, _ in CASES])
async def test_never_500(browser, public_client, method, path, headers, body):
    r = await browser.request(method, path, headers=headers, content=body)
    assert 400 <= r.status_code < 500 or r.status_code in (200, 303), (r.status_code, r.text[:300])


@pytest.mark.parametrize("body", REGISTRATIONS)
async def test_registration_never_500(db_url, repo, body):
    app = create_app(make_settings(db_url, dynamic_registration=True), repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        r = await c.post("/oauth2/register", content=body)
        assert r.status_code == 400, r.text
