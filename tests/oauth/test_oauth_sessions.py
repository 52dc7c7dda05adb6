"""Web sessions (idle and absolute timeout, logout, new id at login), CSRF refusal, rate
limits (429), security headers and CORS."""

from __future__ import annotations

import httpx
import pytest
from oauth_flow import BASE, KARI, csrf, login_citizen, make_settings

from ehelse.oauth.sessions import PLAIN_COOKIE, SECURE_COOKIE
from ehelse.oauth.store import digest
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


async def test_login_makes_a_new_session_with_safe_cookie(browser):
    page = await browser.get("/login/idporten")
    anonymous = browser.cookies[PLAIN_COOKIE]
    r = await browser.post("/login/idporten", data={"pid": KARI, "csrf_token": csrf(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login/done"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert browser.cookies[PLAIN_COOKIE] != anonymous  # no session fixation
    done = await browser.get("/login/done")
    assert done.status_code == 200 and "Kari Nordmann" in done.text


async def test_https_cookie_is_host_prefixed_and_secure(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        r = await c.get("/login/idporten")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SECURE_COOKIE}=") and "Secure" in cookie
        assert "strict-transport-security" in r.headers


async def test_logout_ends_the_session(browser, store):
    await login_citizen(browser)
    sid = browser.cookies[PLAIN_COOKIE]
    page = await browser.get("/login/done")
    r = await browser.post("/login/logout", data={"csrf_token": csrf(page.text)})
    assert r.status_code == 200
    assert store.get("session", digest(sid)) is None
    assert (await browser.get("/login/done")).headers["location"] == "/login/idporten"


async def test_idle_timeout(browser, store):
    await login_citizen(browser)
    key = digest(browser.cookies[PLAIN_COOKIE])
    data, _ = store.get("session", key)
    data["seen"] -= 31 * 60  # idle past session_idle_timeout (30 min)
    store.update("session", key, data)
    assert (await browser.get("/login/done")).status_code == 303
    assert store.get("session", key) is None


async def test_absolute_timeout(browser, store):
    await login_citizen(browser)
    key = digest(browser.cookies[PLAIN_COOKIE])
    data, _ = store.get("session", key)
    data["created"] -= 13 * 3600  # active all along, but past 12 h
    store.update("session", key, data)
    assert (await browser.get("/login/done")).status_code == 303


async def test_csrf_refused(browser):
    await browser.get("/login/idporten")
    r = await browser.post("/login/idporten", data={"pid": KARI, "csrf_token": "forged"})
    assert r.status_code == 403
    r = await browser.post("/login/idporten", data={"pid": KARI})
    assert r.status_code == 403


async def test_csrf_token_of_another_session_refused(app, browser):
    page = await browser.get("/login/idporten")
    token = csrf(page.text)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as other:
        await other.get("/login/idporten")
        r = await other.post("/login/idporten", data={"pid": KARI, "csrf_token": token})
        assert r.status_code == 403


async def test_security_headers_on_pages_and_api(browser):
    page = await browser.get("/login/idporten")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in page.headers  # plain http
    assert "<script" not in page.text  # no inline script at all
    api = await browser.get("/fhir/metadata")
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]


async def test_pages_in_bokmal_and_english(browser):
    nb = await browser.get("/login/idporten")
    assert '<html lang="nb">' in nb.text and "Logg inn" in nb.text
    en = await browser.get("/login/idporten?lang=en")
    assert '<html lang="en">' in en.text and "Log in" in en.text
    assert '<label for="q">' in nb.text  # every input has a label


async def test_rate_limit_token_endpoint(db_url, repo):
    app = create_app(make_settings(db_url, rate_limit=3), repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        statuses = [(await c.post("/oauth2/token", data={"grant_type": "x", "client_id": "a"})).status_code
                    for _ in range(5)]
        assert statuses[:3] != [429] * 3 and statuses[-1] == 429
        r = await c.post("/oauth2/token", data={"grant_type": "x"})
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        assert r.json()["resourceType"] == "OperationOutcome" and r.json()["issue"][0]["code"] == "throttled"


async def test_rate_limit_login_per_account(db_url, repo):
    # Many IPs, one account: the per-account bucket still stops it, with a page.
    app = create_app(make_settings(db_url, rate_limit=2), repo)
    seen = []
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        transport = httpx.ASGITransport(app=app, client=(ip, 1234))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            page = await c.get("/login/idporten")
            r = await c.post("/login/idporten", data={"pid": KARI, "csrf_token": csrf(page.text)})
            seen.append(r.status_code)
    assert seen[:2] == [303, 303] and seen[2] == 429
    assert "text/html" in r.headers["content-type"]


async def test_cors_configurable(db_url, repo, browser):
    r = await browser.get("/fhir/metadata", headers={"Origin": "https://app.example.no"})
    assert "access-control-allow-origin" not in r.headers  # off by default
    app = create_app(make_settings(db_url, cors_origins="https://app.example.no"), repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        r = await c.get("/fhir/metadata", headers={"Origin": "https://app.example.no"})
        assert r.headers["access-control-allow-origin"] == "https://app.example.no"
        assert "access-control-allow-credentials" not in r.headers
        pre = await c.options("/fhir/Patient", headers={"Origin": "https://app.example.no",
                                                         "Access-Control-Request-Method": "GET",
                                                         "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 204 and "authorization" in pre.headers["access-control-allow-headers"]
        other = await c.get("/fhir/metadata", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_language_choice_is_remembered(browser):
    await browser.get("/login/idporten?lang=en")
    assert '<html lang="en">' in (await browser.get("/login/helseid")).text


async def test_expired_records_are_purged(store):
    import time

    store.put("code", "old", {"x": 1}, expires=time.time() - 1)
    store.put("code", "live", {"x": 1}, expires=time.time() + 60)
    store.revoke_jti("gone", time.time() - 1)
    store.purge_expired()
    assert [key for key, _ in store.list("code")] == ["live"]
    assert store.revoked_since(0) == []
