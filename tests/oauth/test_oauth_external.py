"""login_mode=external: ID-porten and HelseID as real OIDC issuers. A fake issuer runs on
loopback (discovery, JWKS, authorize, token; its own signing key); our server fetches its
keys, verifies the id_token and enforces the security level."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from oauth_flow import BASE, KARI, NINA_HPR, LoopbackServer, make_settings, query_of
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


class FakeIssuer:
    """Just enough of an OpenID Provider: the test sets `claims` before each login."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1"})
        self.claims: dict = {}
        self.nonces: dict[str, str] = {}
        self.url = ""
        self.app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", lambda r: JSONResponse({"keys": [self.key.as_dict(private=False)]})),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])

    async def discovery(self, request: Request):
        return JSONResponse({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                             "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"})

    async def authorize(self, request: Request):
        q = request.query_params
        assert q["code_challenge_method"] == "S256" and q["nonce"]
        self.nonces["code-1"] = q["nonce"]
        return RedirectResponse(f"{q['redirect_uri']}?code=code-1&state={q['state']}", status_code=302)

    async def token(self, request: Request):
        from urllib.parse import parse_qsl

        form = dict(parse_qsl((await request.body()).decode()))
        now = int(time.time())
        claims = {"iss": self.url, "aud": form["client_id"], "iat": now, "exp": now + 120,
                  "nonce": self.nonces.get(form["code"], ""), "sub": "x", **self.claims}
        return JSONResponse({"id_token": jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key),
                             "token_type": "Bearer", "access_token": "opaque"})


@pytest.fixture(scope="module")
def issuer():
    fake = FakeIssuer()
    with LoopbackServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
async def external(db_url, repo, issuer):
    settings = make_settings(db_url, login_mode="external", idporten_issuer=issuer.url, helseid_issuer=issuer.url)
    app = create_app(settings, repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def _login(browser, which: str) -> httpx.Response:
    r = await browser.get(f"/login/external/{which}")
    assert r.status_code == 303
    to_issuer = r.headers["location"]
    if which == "idporten":
        assert query_of(to_issuer)["acr_values"] == "idporten-loa-high"
    back = httpx.get(to_issuer)  # the browser at the issuer, which sends it back
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    return await browser.get(f"{callback.path}?{callback.query}")


async def test_builtin_login_is_404_in_external_mode(external):
    assert (await external.get("/login/idporten")).status_code == 404
    assert (await external.get("/login/helseid")).status_code == 404


async def test_idporten_at_the_right_level(external, issuer):
    issuer.claims = {"pid": KARI, "acr": "idporten-loa-high"}
    r = await _login(external, "idporten")
    assert r.status_code == 303 and r.headers["location"] == "/login/done"
    assert "Kari Nordmann" in (await external.get("/login/done")).text


async def test_idporten_below_the_level_refused(external, issuer):
    issuer.claims = {"pid": KARI, "acr": "idporten-loa-substantial"}
    r = await _login(external, "idporten")
    assert r.status_code == 401
    assert (await external.get("/login/done")).status_code == 303  # not logged in


async def test_helseid_level_4(external, issuer):
    issuer.claims = {"helseid://claims/hpr/hpr_number": NINA_HPR, "helseid://claims/identity/security_level": "4",
                     "helseid://claims/client/claims/orgnr_parent": "979513763"}
    assert (await _login(external, "helseid")).status_code == 303


async def test_helseid_level_3_refused(external, issuer):
    issuer.claims = {"helseid://claims/hpr/hpr_number": NINA_HPR, "helseid://claims/identity/security_level": "3"}
    assert (await _login(external, "helseid")).status_code == 401


async def test_id_token_signed_by_another_key_refused(external, issuer):
    issuer.claims = {"pid": KARI, "acr": "idporten-loa-high"}
    real = issuer.key
    issuer.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1"})  # signs, but JWKS ...
    try:
        jwks_route = issuer.app.routes[1]
        assert jwks_route.path == "/jwks"
        # ... still publishes the old public key: the forged id_token must fail
        issuer.app.routes[1] = Route("/jwks", lambda r: JSONResponse({"keys": [real.as_dict(private=False)]}))
        assert (await _login(external, "idporten")).status_code == 401
    finally:
        issuer.key = real
        issuer.app.routes[1] = jwks_route


async def test_callback_with_wrong_state_refused(external, issuer):
    await external.get("/login/external/idporten")
    r = await external.get("/login/callback?code=code-1&state=not-mine")
    assert r.status_code == 400


async def test_helseid_purpose_from_authorization_details(external, issuer):
    issuer.claims = {"helseid://claims/hpr/hpr_number": NINA_HPR, "helseid://claims/identity/security_level": "4",
                     "authorization_details": [{"type": "nhn:tillitsrammeverk:parameters",
                                                "practitioner": {"legal_entity": {"id": "910802550"}},
                                                "care_relationship": {"purpose_of_use": {"code": "ETREAT"},
                                                                      "purpose_of_use_details": {"text": "Akutt"}}}]}
    assert (await _login(external, "helseid")).status_code == 303
    from ehelse.oauth.sessions import PLAIN_COOKIE
    from ehelse.oauth.store import digest

    app = external._transport.app
    data, _ = app.state.oauth.store.get("session", digest(external.cookies[PLAIN_COOKIE]))
    assert (data["purpose"], data["reason"], data["orgnr"]) == ("ETREAT", "Akutt", "910802550")


async def test_unreachable_issuer_is_a_page_not_a_500(db_url, repo):
    from oauth_flow import free_port_url

    settings = make_settings(db_url, login_mode="external", idporten_issuer=free_port_url())
    app = create_app(settings, repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        r = await c.get("/login/external/idporten")
        assert r.status_code == 502 and "text/html" in r.headers["content-type"]
