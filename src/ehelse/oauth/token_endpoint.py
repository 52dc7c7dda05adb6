"""POST /oauth2/token: the authorisation code (with PKCE), refresh token and client
credentials grants.

    authorization_code   RFC 6749 section 4.1.3; PKCE RFC 7636 section 4.6 (S256 only, as
                         SMART App Launch 2.0 requires); a code works once, and a replayed
                         code revokes the tokens it gave (section 4.1.2).
    refresh_token        section 6; rotated on every use; a scope may only narrow; a
                         rotated-away token coming back revokes its whole family.
    client_credentials   section 4.4 with private_key_jwt (RFC 7523): SMART Backend
                         Services (backend-services.html), `system/` scopes only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ehelse.oauth import clients, grants, scopes
from ehelse.oauth.errors import NO_STORE, OAuthError
from ehelse.oauth.store import digest
from ehelse.audit.security import record_security

CODE_LIFETIME = 60  # seconds a code may be exchanged (RFC 6749 4.1.2 recommends at most 10 minutes)
CODE_MEMORY = 600  # seconds a used code is remembered, to recognise a replay


def token(server: Any, request: Request) -> JSONResponse:
    form = server.form(request)
    server.purge_now_and_then()
    try:
        server.limit(request, "client:" + (form.get("client_id") or ""))
        client = clients.authenticate(server.store, form, request.headers.get("authorization"),
                                      server.token_url(request))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            body = _authorization_code(server, client, form)
        elif grant_type == "refresh_token":
            body = _refresh(server, client, form)
        elif grant_type == "client_credentials":
            body = _client_credentials(server, client, form, server.fhir_base(request))
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as error:
        record_security(server.repo, interaction="token", actor_kind="client", actor_id=form.get("client_id") or "",
                        client=form.get("client_id") or "", ok=False, detail=f"{grant_type_of(form)}: {error.error}")
        return error.response()
    # no token leaves before its record (like patient data): issuance and refresh, per client
    record_security(server.repo, interaction="refresh" if grant_type == "refresh_token" else "token",
                    actor_kind="client", actor_id=client.client_id, client=client.client_id,
                    detail=f"{grant_type}: scope {body.get('scope', '')}")
    return JSONResponse(body, headers=NO_STORE)


def grant_type_of(form: dict[str, str]) -> str:
    return form.get("grant_type") or "(no grant_type)"


def _authorization_code(server: Any, client: clients.Client, form: dict[str, str]) -> dict[str, Any]:
    code = form.get("code", "")
    key = digest(code)
    record = server.store.take("code", key) if code else None
    if record is None:
        seen = server.store.get("code", key) if code else None
        if seen is not None and seen[1]:
            _revoke_what_code_gave(server, seen[0])
            raise OAuthError("invalid_grant", "authorisation code used before; the tokens it gave are revoked")
        raise OAuthError("invalid_grant", "unknown or expired authorisation code")
    if record["valid_until"] <= time.time():
        raise OAuthError("invalid_grant", "authorisation code expired")
    grant = record["grant"]
    if grant["client_id"] != client.client_id:
        raise OAuthError("invalid_grant", "authorisation code was issued to another client")
    if form.get("redirect_uri") != record["redirect_uri"]:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorisation request")
    if not pkce_ok(record.get("code_challenge"), form.get("code_verifier")):
        raise OAuthError("invalid_grant", "PKCE code_verifier does not match the code_challenge")
    jti, family = uuid.uuid4().hex, uuid.uuid4().hex
    record.update(jti=jti, jti_exp=time.time() + server.settings.token_lifetime, family=family)
    server.store.update("code", key, record)
    return grants.issue(server, grant, family=family, jti=jti)


def pkce_ok(challenge: str | None, verifier: str | None) -> bool:
    """RFC 7636 section 4.6 with S256: BASE64URL(SHA256(verifier)) == challenge. A code
    asked for without PKCE (confidential clients may) needs no verifier."""
    if not challenge:
        return not verifier
    if not verifier or not 43 <= len(verifier) <= 128:
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=")
    return hmac.compare_digest(computed.decode(), challenge)


def _revoke_what_code_gave(server: Any, record: dict[str, Any]) -> None:
    if record.get("jti"):
        server.tokens.revocations.add(record["jti"], record.get("jti_exp", time.time() + 3600))
    if record.get("family"):
        grants.revoke_family(server, record["family"])


def _refresh(server: Any, client: clients.Client, form: dict[str, str]) -> dict[str, Any]:
    token = form.get("refresh_token", "")
    key = digest(token)
    found = server.store.get("refresh", key) if token else None
    if found is None:
        raise OAuthError("invalid_grant", "unknown, revoked or expired refresh token")
    record, used = found
    if used:  # rotated away already: a stolen copy, or a replay
        grants.revoke_family(server, record["family"])
        raise OAuthError("invalid_grant", "refresh token used before; its family is revoked")
    if grants.family_revoked(server, record["family"]):
        raise OAuthError("invalid_grant", "refresh token revoked")
    grant = record["grant"]
    if grant["client_id"] != client.client_id:
        raise OAuthError("invalid_grant", "refresh token was issued to another client")
    if grant.get("session") and server.store.get("session", grant["session"]) is None:
        raise OAuthError("invalid_grant", "online_access ended with the user's session")
    scope = record["scope"]
    if form.get("scope"):
        # Section 6: the scope may not include any scope not originally granted.
        try:
            wider = scopes.covered(form["scope"], scope)
        except scopes.ScopeError as exc:
            raise OAuthError("invalid_scope", str(exc)) from None
        if wider:
            raise OAuthError("invalid_scope", f"more than was granted: {' '.join(wider)}")
        scope = scopes.normalise(form["scope"])
    # Checked first, rotated last: a refused request leaves the token usable; of two racing
    # uses exactly one wins the take().
    if server.store.take("refresh", key) is None:
        grants.revoke_family(server, record["family"])
        raise OAuthError("invalid_grant", "refresh token used before; its family is revoked")
    return grants.issue(server, grant, scope=scope, family=record["family"], jti=uuid.uuid4().hex)


def _client_credentials(server: Any, client: clients.Client, form: dict[str, str], audience: str) -> dict[str, Any]:
    if client.auth_method != "private_key_jwt":
        raise OAuthError("unauthorized_client", "client_credentials needs private_key_jwt client authentication")
    requested = form.get("scope") or client.scope
    try:
        wider = scopes.covered(requested, client.scope)
        if scopes.contexts(requested) - {"system"} or any(s in scopes.PLAIN for s in scopes.split(requested)):
            raise OAuthError("invalid_scope", "backend services may ask for system/ scopes only")
    except scopes.ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    if wider:
        raise OAuthError("invalid_scope", f"not allowed for this client: {' '.join(wider)}")
    grant = grants.new_grant(client_id=client.client_id, actor=f"system:{client.client_id}",
                             scope=scopes.normalise(requested), audience=audience)
    response = grants.issue(server, grant, family=uuid.uuid4().hex, jti=uuid.uuid4().hex)
    response.pop("refresh_token", None)  # section 4.4.3: no refresh token here
    return response
