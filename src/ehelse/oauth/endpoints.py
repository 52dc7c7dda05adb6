"""The small OAuth endpoints: discovery, JWKS, introspection, revocation, registration,
userinfo.

    /fhir/.well-known/smart-configuration   SMART App Launch 2.0 conformance-discovery.html
    /.well-known/openid-configuration       OIDC Discovery 1.0 section 3
    /oauth2/jwks                            RFC 7517 JWK Set: every key that still verifies
    /oauth2/introspect                      RFC 7662
    /oauth2/revoke                          RFC 7009
    /oauth2/register                        RFC 7591 (only with dynamic_registration on)
    /oauth2/userinfo                        OIDC Core section 5.3
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ehelse.errors import FhirError
from ehelse.oauth import clients
from ehelse.oauth.errors import NO_STORE, OAuthError
from ehelse.oauth.grants import revoke_family
from ehelse.oauth.store import digest

SCOPES_SUPPORTED = ["openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access",
                    "patient/*.cruds", "user/*.cruds", "system/*.rs", "patient/*.read", "user/*.read"]
# What we really do (conformance-discovery.html#capabilities).
CAPABILITIES = ["launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
                "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
                "context-standalone-patient", "permission-offline", "permission-online", "permission-patient",
                "permission-user", "permission-v1", "permission-v2", "sso-openid-connect",
                "context-banner"]


def smart_configuration(server: Any, request: Request) -> dict[str, Any]:
    origin = server.origin(request)
    config: dict[str, Any] = {
        "issuer": server.tokens.issuer,
        "jwks_uri": f"{origin}/oauth2/jwks",
        "authorization_endpoint": f"{origin}/oauth2/authorize",
        "token_endpoint": f"{origin}/oauth2/token",
        "introspection_endpoint": f"{origin}/oauth2/introspect",
        "revocation_endpoint": f"{origin}/oauth2/revoke",
        "userinfo_endpoint": f"{origin}/oauth2/userinfo",
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": list(clients.AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": clients.ASSERTION_ALGORITHMS,
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }
    if server.settings.dynamic_registration:
        config["registration_endpoint"] = f"{origin}/oauth2/register"
    return config


def smart_configuration_endpoint(server: Any, request: Request) -> Response:
    return JSONResponse(smart_configuration(server, request))


def openid_configuration(server: Any, request: Request) -> Response:
    config = smart_configuration(server, request)
    config.pop("capabilities")
    config.update(subject_types_supported=["public"], id_token_signing_alg_values_supported=["ES256", "RS256"],
                  claims_supported=["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "fhirUser"])
    return JSONResponse(config)


def jwks(server: Any, request: Request) -> Response:
    return JSONResponse(server.tokens.public_jwks(), headers={"Cache-Control": "public, max-age=300"})


def _caller(server: Any, request: Request, form: dict[str, str]) -> clients.Client | None:
    """Introspection and revocation callers: a client authenticating as at the token endpoint."""
    return clients.authenticate(server.store, form, request.headers.get("authorization"), server.token_url(request))


def introspect(server: Any, request: Request) -> Response:
    """RFC 7662 section 2: protected; here a confidential client, or a caller with one of our
    bearer tokens (a resource server or the token's own app) may ask."""
    form = server.form(request)
    try:
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            server.tokens.verify(authorization[7:].strip(), server.fhir_base(request))
        else:
            client = _caller(server, request, form)
            if client.public:
                raise OAuthError("invalid_client", "introspection needs an authenticated client", status=401)
    except OAuthError as error:
        return error.response()
    except FhirError:
        return OAuthError("invalid_token", "the caller's bearer token is not valid", status=401).response()
    return JSONResponse(_introspection(server, request, form.get("token", "")), headers=NO_STORE)


def _introspection(server: Any, request: Request, token: str) -> dict[str, Any]:
    if not token:
        return {"active": False}
    if token.count(".") == 2:
        try:
            claims = server.tokens.claims_of(token, server.fhir_base(request))
        except FhirError:
            return {"active": False}
        answer = {k: v for k, v in claims.items() if k in (
            "scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "patient", "fhirUser",
            "ehelse_actor", "authorization_details")}
        return {"active": True, "token_type": "Bearer", **answer}
    found = server.store.get("refresh", digest(token))
    if found is None or found[1]:
        return {"active": False}
    record = found[0]
    grant = record["grant"]
    return {"active": True, "token_type": "refresh_token", "scope": record["scope"], "client_id": grant["client_id"],
            "sub": grant["actor"].partition(":")[2], "ehelse_actor": grant["actor"]}


def revoke(server: Any, request: Request) -> Response:
    """RFC 7009 section 2: the client revokes its own tokens; 200 whatever the token was."""
    form = server.form(request)
    try:
        client = _caller(server, request, form)
    except OAuthError as error:
        return error.response()
    token = form.get("token", "")
    if token.count(".") == 2:
        try:
            claims = server.tokens.claims_of(token, server.fhir_base(request))
        except FhirError:
            claims = None
        if claims and claims.get("client_id") == client.client_id and claims.get("jti"):
            server.tokens.revocations.add(claims["jti"], float(claims["exp"]))
    elif token:
        found = server.store.get("refresh", digest(token))
        if found and found[0]["grant"]["client_id"] == client.client_id:
            server.store.delete("refresh", digest(token))
            revoke_family(server, found[0]["family"])
    return Response(status_code=200, headers=NO_STORE)


def register(server: Any, request: Request) -> Response:
    """RFC 7591 section 3: JSON client metadata in, the client (and secret) out."""
    if not server.settings.dynamic_registration:
        return JSONResponse({"error": "not_found", "error_description": "dynamic registration is off"},
                            status_code=404)
    server.limit(request, None)
    try:
        metadata = orjson.loads(server.body(request))
        if not isinstance(metadata, dict):
            raise ValueError
    except ValueError:
        return OAuthError("invalid_client_metadata", "the body must be a JSON object").response()
    try:
        redirect_uris = metadata.get("redirect_uris") or []
        if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
            raise OAuthError("invalid_redirect_uri", "redirect_uris must be a list of strings")
        client, secret = clients.register(
            server.store, name=str(metadata.get("client_name", "")), redirect_uris=redirect_uris,
            scope=str(metadata.get("scope") or "openid fhirUser launch/patient patient/*.rs"),
            auth_method=str(metadata.get("token_endpoint_auth_method", "none")),
            jwks=metadata.get("jwks") if isinstance(metadata.get("jwks"), dict) else None,
            jwks_uri=str(metadata.get("jwks_uri", "")))
    except OAuthError as error:
        return error.response()
    body = {"client_id": client.client_id, "client_id_issued_at": int(client.created),
            "client_name": client.client_name, "redirect_uris": client.redirect_uris, "scope": client.scope,
            "token_endpoint_auth_method": client.auth_method}
    if secret:
        body.update(client_secret=secret, client_secret_expires_at=0)
    return JSONResponse(body, status_code=201, headers=NO_STORE)


def userinfo(server: Any, request: Request) -> Response:
    authorization = request.headers.get("authorization", "")
    try:
        if not authorization.lower().startswith("bearer "):
            raise OAuthError("invalid_token", "a bearer token is needed", status=401)
        claims = server.tokens.claims_of(authorization[7:].strip(), server.fhir_base(request))
    except (OAuthError, FhirError):
        return JSONResponse({"error": "invalid_token"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    info = {"sub": claims.get("sub"), "fhirUser": claims.get("fhirUser")}
    if claims.get("exp", 0) < time.time():
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(info, headers=NO_STORE)
