"""Helpers the OAuth tests share: the people of the test database, and driving logins and
the authorisation code flow through the app like a browser would."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from ehelse.access.tokens import FNR_SYSTEM, HPR_SYSTEM
from ehelse.settings import Settings

KARI = "11848441637"  # demo cast: Kari Nordmann, mother of Emma
EMMA = "02861767437"
NINA_HPR = "995651119"  # demo cast: GP Nina Berg
NINA_ORG = "979513763"
REDIRECT = "http://127.0.0.1:9999/callback"
BASE = "http://testserver"


def people() -> list[dict]:
    def patient(id, fnr, given, family):
        return {"resourceType": "Patient", "id": id, "identifier": [{"system": FNR_SYSTEM, "value": fnr}],
                "name": [{"given": [given], "family": family}]}

    return [
        patient("demo-kari", KARI, "Kari", "Nordmann"),
        patient("demo-emma", EMMA, "Emma", "Nordmann"),
        {"resourceType": "RelatedPerson", "id": "emma-mor", "patient": {"reference": "Patient/demo-emma"},
         "identifier": [{"system": FNR_SYSTEM, "value": KARI}], "name": [{"given": ["Kari"], "family": "Nordmann"}]},
        {"resourceType": "Practitioner", "id": "demo-nina", "identifier": [{"system": HPR_SYSTEM, "value": NINA_HPR}],
         "name": [{"given": ["Nina"], "family": "Berg"}]},
        {"resourceType": "Observation", "id": "kari-bp", "status": "final", "code": {"text": "BT"},
         "subject": {"reference": "Patient/demo-kari"}},
    ]


def make_settings(url: str, **overrides) -> Settings:
    return Settings.from_env({}, **{"database_url": url, "log_level": "warning", "rate_limit": 1000, **overrides})


# -- helpers ---------------------------------------------------------------------------------
def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def login_citizen(browser, fnr: str = KARI) -> httpx.Response:
    page = await browser.get("/login/idporten")
    assert page.status_code == 200
    return await browser.post("/login/idporten", data={"pid": fnr, "csrf_token": csrf(page.text)})


async def login_personnel(browser, hpr: str = NINA_HPR, purpose: str = "TREAT", reason: str = "") -> httpx.Response:
    page = await browser.get("/login/helseid")
    return await browser.post("/login/helseid", data={"hpr": hpr, "orgnr": NINA_ORG, "role": "lege",
                                                      "purpose": purpose, "reason": reason,
                                                      "csrf_token": csrf(page.text)})


async def start(browser, scope: str, challenge: str, client_id: str = "testapp", **extra) -> httpx.Response:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
              "state": "s-123", "aud": f"{BASE}/fhir", "code_challenge": challenge,
              "code_challenge_method": "S256", **extra}
    return await browser.get("/oauth2/authorize", params=params)


async def approve(browser, response: httpx.Response) -> dict[str, str]:
    """Follow a consent redirect, approve, and return the query of the redirect to the app."""
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/oauth2/consent", response.headers["location"]
    page = await browser.get("/oauth2/consent")
    assert page.status_code == 200
    done = await browser.post("/oauth2/consent", data={"decision": "approve", "csrf_token": csrf(page.text)})
    assert done.status_code == 303
    assert done.headers["location"].startswith(REDIRECT)
    return query_of(done.headers["location"])


async def authorize_citizen(browser, scope: str = "openid fhirUser offline_access patient/*.rs",
                            fnr: str = KARI) -> tuple[str, str]:
    """The whole browser part for a citizen: (code, verifier)."""
    verifier, challenge = pkce()
    first = await start(browser, scope, challenge)
    assert first.status_code == 303 and first.headers["location"] == "/login/idporten"
    result = await approve(browser, await login_citizen(browser, fnr))
    assert result["state"] == "s-123"
    return result["code"], verifier


async def exchange(browser, code: str, verifier: str, client_id: str = "testapp") -> httpx.Response:
    return await browser.post("/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier, "client_id": client_id})


async def introspect(browser, token: str, bearer: str) -> dict:
    r = await browser.post("/oauth2/introspect", data={"token": token}, headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 200, r.text
    return r.json()


class LoopbackServer:
    """A tiny ASGI app served for real on 127.0.0.1 in a thread (uvicorn), for what our
    server fetches over HTTP: a client's JWKS URL, an external issuer's discovery and keys."""

    def __init__(self, app):
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))

    def __enter__(self) -> "LoopbackServer":
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "loopback server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def json_app(routes: dict):
    """An ASGI app answering GET <path> with the JSON of routes[path] (a dict or a callable)."""
    import json

    async def app(scope, receive, send):
        body = routes.get(scope["path"])
        status = 200 if body is not None else 404
        data = json.dumps(body() if callable(body) else body or {}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})

    return app


def free_port_url() -> str:
    """A loopback URL nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"
