"""Logins through the real issuers (`login_mode=external`): ID-porten for citizens and
HelseID for personnel, as an OpenID Connect relying party (OIDC Core section 3.1, the
authorisation code flow with PKCE and a nonce, which both issuers require).

    /login/external/idporten|helseid   redirect to the issuer's authorization_endpoint
    /login/callback                    code -> token_endpoint -> id_token, verified against
                                       the issuer's JWKS (discovery, cached 10 minutes and
                                       reloaded on an unknown kid); iss, aud, exp, nonce
                                       checked; the security level enforced:
                                       ID-porten `acr=idporten-loa-high`, HelseID
                                       `helseid://claims/identity/security_level` = 4.
The session that results is the same as a built-in login's, so the rest cannot tell.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.access.tokens import PURPOSES, actor_from_claims
from ehelse.oauth import people
from ehelse.oauth.login import HELSEID_LEVEL, IDPORTEN_ACR, _logged_in
from ehelse.oauth.sessions import current_session

HELSEID_PID = "helseid://claims/identity/pid"
HELSEID_HPR = "helseid://claims/hpr/hpr_number"
HELSEID_LEVEL_CLAIM = "helseid://claims/identity/security_level"
HELSEID_ORG_PARENT = "helseid://claims/client/claims/orgnr_parent"
HELSEID_ORG_CHILD = "helseid://claims/client/claims/orgnr_child"
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_CACHE_SECONDS = 600


class LoginRefused(Exception):
    pass


class Issuer:
    """One external OIDC issuer: its discovery document and keys, fetched and cached."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._config: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._loaded = 0.0
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        if self._config is None or time.monotonic() - self._loaded > _CACHE_SECONDS:
            response = httpx.get(f"{self.url}/.well-known/openid-configuration", timeout=5.0)
            response.raise_for_status()
            config = response.json()
            if config.get("issuer", "").rstrip("/") != self.url:  # OIDC Discovery section 4.3
                raise LoginRefused("discovery document names another issuer")
            self._config, self._keys, self._loaded = config, None, time.monotonic()
        return self._config

    def keys(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is None or refresh:
                response = httpx.get(self.config()["jwks_uri"], timeout=5.0)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
            return self._keys

    def verify(self, id_token: str, audience: str, nonce: str | None) -> dict[str, Any]:
        try:
            try:
                claims = jwt.decode(id_token, self.keys(), algorithms=ALGORITHMS).claims
            except (JoseError, ValueError):  # perhaps the issuer rotated its keys
                claims = jwt.decode(id_token, self.keys(refresh=True), algorithms=ALGORITHMS).claims
        except (JoseError, ValueError) as exc:
            raise LoginRefused(f"id_token does not verify: {type(exc).__name__}") from None
        now = time.time()
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if str(claims.get("iss", "")).rstrip("/") != self.url:
            raise LoginRefused("id_token from another issuer")
        if audience not in audiences:
            raise LoginRefused("id_token for another client")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise LoginRefused("id_token expired")
        if nonce is not None and claims.get("nonce") != nonce:
            raise LoginRefused("id_token nonce does not match")
        return claims


_issuers: dict[str, Issuer] = {}


def issuer(url: str) -> Issuer:
    if url not in _issuers:
        _issuers[url] = Issuer(url)
    return _issuers[url]


def _issuer_url(server: Any, which: str) -> str:
    return {"idporten": server.settings.idporten_issuer, "helseid": server.settings.helseid_issuer}.get(which, "")


def start(server: Any, request: Request) -> Response:
    which = request.path_params["which"]
    url = _issuer_url(server, which)
    if server.settings.login_mode != "external" or not url:
        return server.error_page(request, "not_found", status=404)
    session = current_session(request) or server.sessions.start()
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    session.data["external"] = {"which": which, "state": state, "nonce": nonce, "verifier": verifier}
    server.sessions.save(session)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": server.settings.login_client_id,
              "redirect_uri": server.origin(request) + "/login/callback", "scope": "openid profile",
              "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
    if which == "idporten":
        params["acr_values"] = IDPORTEN_ACR
    try:
        endpoint = issuer(url).config()["authorization_endpoint"]
    except (httpx.HTTPError, LoginRefused, KeyError, ValueError):  # the issuer is down or odd
        return server.error_page(request, "login_failed", status=502)
    return server.with_session(RedirectResponse(f"{endpoint}?{urlencode(params)}", status_code=303), request, session)


def callback(server: Any, request: Request) -> Response:
    params = server.form(request) if request.method == "POST" else dict(request.query_params)
    session = current_session(request)
    pending = session.data.get("external") if session else None
    if server.settings.login_mode != "external":
        return server.error_page(request, "not_found", status=404)
    if not pending or not params.get("code") or params.get("state") != pending["state"]:
        return server.error_page(request, "login_failed", status=400)
    server.limit(request, "external:" + pending["which"])
    try:
        claims = _exchange(server, request, pending, params["code"])
        identity = _identity(server, pending["which"], claims)
    except (LoginRefused, httpx.HTTPError, KeyError, ValueError):
        return server.error_page(request, "login_failed", status=401)
    session.data.pop("external", None)
    kind = identity.pop("kind")
    return _logged_in(server, request, kind, **identity)


def _exchange(server: Any, request: Request, pending: dict[str, Any], code: str) -> dict[str, Any]:
    external = issuer(_issuer_url(server, pending["which"]))
    response = httpx.post(external.config()["token_endpoint"], timeout=10.0, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": pending["verifier"],
        "redirect_uri": server.origin(request) + "/login/callback", "client_id": server.settings.login_client_id})
    if response.status_code != 200:
        raise LoginRefused(f"token endpoint said {response.status_code}")
    return external.verify(response.json()["id_token"], server.settings.login_client_id, pending["nonce"])


def _identity(server: Any, which: str, claims: dict[str, Any]) -> dict[str, Any]:
    """The session of a verified id_token, once the required security level is there."""
    if which == "idporten":
        if claims.get("acr") != IDPORTEN_ACR:
            raise LoginRefused(f"ID-porten level {claims.get('acr')!r}; {IDPORTEN_ACR} is required")
        pid = str(claims.get("pid", ""))
        patient = people.patient_by_fnr(server.repo, pid)
        if patient is None:
            raise LoginRefused("no patient record for this person")
        return {"kind": "citizen", "pid": pid, "patient_id": patient["id"], "name": people.display_name(patient),
                "acr": IDPORTEN_ACR}
    if str(claims.get(HELSEID_LEVEL_CLAIM, "")) != HELSEID_LEVEL:
        raise LoginRefused(f"HelseID security level {claims.get(HELSEID_LEVEL_CLAIM)!r}; 4 is required")
    hpr = str(claims.get(HELSEID_HPR, ""))
    practitioner = people.practitioner_by_hpr(server.repo, hpr)
    if practitioner is None:
        raise LoginRefused("no practitioner record for this HPR number")
    # Purpose and reason travel as HelseID's tillitsrammeverk authorization_details when the
    # login carried them; a plain login is for treatment (TREAT).
    trust = actor_from_claims({"ehelse_actor": f"practitioner:{hpr}",
                               "authorization_details": claims.get("authorization_details") or []})
    purpose = trust.purpose if trust.purpose in PURPOSES else "TREAT"
    return {"kind": "personnel", "hpr": hpr, "practitioner_id": practitioner["id"],
            "name": people.display_name(practitioner), "pid": claims.get(HELSEID_PID),
            "orgnr": trust.organization or claims.get(HELSEID_ORG_CHILD) or claims.get(HELSEID_ORG_PARENT),
            "purpose": purpose, "reason": trust.reason, "security_level": HELSEID_LEVEL}
