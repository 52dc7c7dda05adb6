"""Registered clients, and authenticating a client at the token endpoint.

A client is public (a browser or phone app: no secret, PKCE S256 required) or confidential
(a client secret, or `private_key_jwt` with its registered JWKS or JWKS URL: RFC 7523 and
SMART Backend Services, backend-services.html). Registered by `ehelse client add` or, when
the `dynamic_registration` setting is on, by RFC 7591 at /oauth2/register.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ehelse.oauth import scopes
from ehelse.oauth.errors import OAuthError
from ehelse.oauth.store import digest

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
# SMART Backend Services: servers SHALL support RS384 and ES384; the 256 forms are common too.
ASSERTION_ALGORITHMS = ["RS384", "ES384", "RS256", "ES256"]
_MAX_ASSERTION_LIFETIME = 300  # seconds; backend-services.html: exp no more than 5 minutes ahead
_JWKS_CACHE_SECONDS = 300


@dataclass(slots=True)
class Client:
    client_id: str
    client_name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    scope: str = ""  # the scopes it may ask for
    auth_method: str = "none"  # one of AUTH_METHODS
    secret_hash: str = ""
    jwks: dict[str, Any] | None = None
    jwks_uri: str = ""
    created: float = 0.0

    @property
    def public(self) -> bool:
        return self.auth_method == "none"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> "Client":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def register(store: Any, *, name: str, redirect_uris: list[str], scope: str, auth_method: str = "none",
             jwks: dict[str, Any] | None = None, jwks_uri: str = "", client_id: str | None = None
             ) -> tuple[Client, str | None]:
    """Store a new client; returns it and its secret (shown once, stored only as a hash)."""
    if auth_method not in AUTH_METHODS:
        raise OAuthError("invalid_client_metadata", f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
    for uri in redirect_uris:
        check_redirect_uri(uri)
    try:
        scope = scopes.normalise(scope)
    except scopes.ScopeError as exc:
        raise OAuthError("invalid_client_metadata", str(exc)) from None
    if auth_method == "private_key_jwt":
        if not (jwks or jwks_uri) or (jwks and jwks_uri):
            raise OAuthError("invalid_client_metadata", "private_key_jwt needs jwks or jwks_uri (one of them)")
        if jwks is not None:
            try:
                KeySet.import_key_set(jwks)
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise OAuthError("invalid_client_metadata", f"jwks is not a valid JWK Set: {exc}") from None
        if jwks_uri:
            check_jwks_uri(jwks_uri)
    elif not redirect_uris:
        raise OAuthError("invalid_redirect_uri", "a client of the authorisation code flow needs redirect_uris")
    secret = secrets.token_urlsafe(32) if auth_method.startswith("client_secret") else None
    client = Client(client_id or secrets.token_urlsafe(12), name, list(redirect_uris), scope, auth_method,
                    digest(secret) if secret else "", jwks, jwks_uri, time.time())
    if not store.add("client", client.client_id, client.to_record()):
        raise OAuthError("invalid_client_metadata", f"client_id {client.client_id!r} is taken")
    return client, secret


def get(store: Any, client_id: str) -> Client | None:
    found = store.get("client", client_id) if client_id else None
    return Client.from_record(found[0]) if found else None


def check_redirect_uri(uri: str) -> None:
    """RFC 6749 section 3.1.2: absolute, no fragment; https, or http only on loopback
    (RFC 8252 section 7.3 for native apps), or a private-use scheme of a native app."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment:
        raise OAuthError("invalid_redirect_uri", f"redirect URI {uri!r} must be absolute and have no fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise OAuthError("invalid_redirect_uri", f"redirect URI {uri!r}: http is only allowed on loopback")
    if parts.scheme in ("javascript", "data", "file"):
        raise OAuthError("invalid_redirect_uri", f"redirect URI scheme {parts.scheme!r} is not allowed")


def check_jwks_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        raise OAuthError("invalid_client_metadata", "jwks_uri must be https (http only on loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- authentication at the token, introspection and revocation endpoints ----------------------
def authenticate(store: Any, form: dict[str, str], authorization: str | None, token_url: str,
                 *, required: bool = False) -> Client:
    """The client a request comes from (RFC 6749 section 2.3, RFC 7523 section 2.2).
    A public client names itself with client_id; a confidential one must prove it."""
    client_id, secret = _basic(authorization)
    if secret is None and form.get("client_secret"):
        client_id, secret = form.get("client_id", ""), form["client_secret"]
    if form.get("client_assertion_type") or form.get("client_assertion"):
        return _authenticate_assertion(store, form, token_url)
    client_id = client_id or form.get("client_id", "")
    client = get(store, client_id)
    if client is None:
        raise OAuthError("invalid_client", "unknown client", status=401)
    if client.auth_method == "private_key_jwt":
        raise OAuthError("invalid_client", "this client authenticates with private_key_jwt", status=401)
    if client.public:
        if secret is not None or required:
            raise OAuthError("invalid_client", "a public client cannot authenticate here", status=401)
        return client
    if secret is None or not hmac.compare_digest(digest(secret), client.secret_hash):
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    return client


def _basic(authorization: str | None) -> tuple[str, str | None]:
    if not authorization or not authorization.lower().startswith("basic "):
        return "", None
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials", status=401) from None
    user, sep, password = raw.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "malformed Basic credentials", status=401)
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before base64
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def _authenticate_assertion(store: Any, form: dict[str, str], token_url: str) -> Client:
    """RFC 7523 section 3 and backend-services.html#authenticating-to-the-token-endpoint."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}", status=401)
    assertion = form["client_assertion"]
    unverified = _peek_claims(assertion)  # only to find the client; verified below
    client = get(store, str(unverified.get("iss", "")))
    if client is None or client.auth_method != "private_key_jwt":
        raise OAuthError("invalid_client", "unknown client or not registered for private_key_jwt", status=401)
    if form.get("client_id") and form["client_id"] != client.client_id:
        raise OAuthError("invalid_client", "client_id does not match the assertion", status=401)
    keys = client_keys(client)
    try:
        claims = jwt.decode(assertion, keys, algorithms=ASSERTION_ALGORITHMS).claims
    except (JoseError, ValueError):
        raise OAuthError("invalid_client", "client assertion signature does not verify with the "
                         "client's registered keys", status=401) from None
    now = time.time()
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise OAuthError("invalid_client", "client assertion iss and sub must be the client_id", status=401)
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    if token_url not in audiences:
        raise OAuthError("invalid_client", f"client assertion aud must be {token_url}", status=401)
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise OAuthError("invalid_client", "client assertion expired", status=401)
    if exp > now + _MAX_ASSERTION_LIFETIME + 30:
        raise OAuthError("invalid_client", "client assertion lives longer than 5 minutes", status=401)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise OAuthError("invalid_client", "client assertion needs a jti", status=401)
    if not store.add("assertion", f"{client.client_id} {jti}", {"at": now}, expires=exp + 60):
        raise OAuthError("invalid_client", "client assertion jti used before (replay)", status=401)
    return client


def _peek_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_client", "client assertion is not a signed JWT", status=401)
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise OAuthError("invalid_client", "client assertion is malformed", status=401) from None
    if not isinstance(claims, dict):
        raise OAuthError("invalid_client", "client assertion is malformed", status=401)
    return claims


_jwks_cache: dict[str, tuple[float, KeySet]] = {}
_jwks_lock = threading.Lock()


def client_keys(client: Client) -> KeySet:
    """The client's public keys: registered inline, or fetched from its JWKS URL (cached
    for five minutes)."""
    if client.jwks is not None:
        return KeySet.import_key_set(client.jwks)
    with _jwks_lock:
        cached = _jwks_cache.get(client.jwks_uri)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    try:
        response = httpx.get(client.jwks_uri, timeout=5.0, follow_redirects=False)
        response.raise_for_status()
        keys = KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, JoseError, TypeError, KeyError) as exc:
        raise OAuthError("invalid_client", f"cannot load the client's jwks_uri: {type(exc).__name__}",
                         status=401) from None
    with _jwks_lock:
        _jwks_cache[client.jwks_uri] = (time.monotonic() + _JWKS_CACHE_SECONDS, keys)
    return keys
