"""Bearer tokens: the deployment's signing keys, making tokens, and verifying them per request.

A token is a JWT (RFC 7519) signed with ES256 by one of the deployment's keys; its header
names the key by `kid`. Keys live in the database (`repo.signing_keys()`, so every server
process on every machine verifies the same tokens) or, when the `key_file` setting is given,
in one PEM file.

Why ES256: measured with joserfc on the project machine, one verification costs ~240 µs
(ES256, EdDSA) or ~110 µs (RS256); ES256 keeps tokens small (~180 bytes of header+claims
against ~430 for RS256) and verification is paid once per token, not per request: verified
tokens are cached by their string until they expire. RS256 keys from a key file work too.

Claims (see docs/cli.md, `ehelse token`):
    iss, aud, sub, iat, exp, jti         -- RFC 7519; aud is the FHIR base URL or `token_audience`
    ehelse_actor                         -- admin | patient:<fnr> | practitioner:<hpr>
    scope                                -- SMART scopes, space separated
    fhirUser, patient                    -- SMART App Launch 2.0 (the person logged in; the
                                            patient context = whom a citizen acts for)
    authorization_details                -- RFC 9396; personnel's organisation, purpose and
                                            reason as type `nhn:tillitsrammeverk:parameters`
                                            (shaped as HelseID does)
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from ehelse.access.actor import Actor
from ehelse.errors import BadRequest, Unauthorized

ALGORITHMS = {"EC": "ES256", "RSA": "RS256"}
TILLITSRAMMEVERK = "nhn:tillitsrammeverk:parameters"
FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"  # Norwegian national identity number (no-basis)
HPR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.4"  # Helsepersonellregisteret
ENH_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.101"  # Enhetsregisteret (organisation number)
PURPOSE_SYSTEM = "urn:oid:2.16.840.1.113883.1.11.20448"  # HL7 v3 PurposeOfUse
PURPOSES = ("TREAT", "ETREAT", "COC", "BTG")
DEFAULT_SCOPES = {
    "admin": "system/*.*",
    "patient": "openid fhirUser launch/patient patient/*.read",
    "practitioner": "openid fhirUser user/*.*",
    "system": "system/*.rs",  # SMART Backend Services clients (oauth/, client_credentials)
}
_CACHE_LIMIT = 10_000
_RELOAD_INTERVAL = 5.0  # seconds between key reloads triggered by an unknown kid
_SIGNING_REFRESH = 60.0  # seconds after which the newest key is looked up again (`ehelse keys rotate`)


def default_issuer(settings: Any) -> str:
    if settings.token_issuer:
        return settings.token_issuer
    return settings.base_url.rstrip("/") + "/oauth2" if settings.base_url else "ehelse"


def default_audience(settings: Any) -> str:
    """The audience `ehelse token` writes when not told: the configured one, else the FHIR
    base URL when the public base is known, else "ehelse"."""
    if getattr(settings, "token_audience", ""):
        return settings.token_audience
    return settings.base_url.rstrip("/") + "/fhir" if settings.base_url else "ehelse"


def new_signing_key() -> dict[str, Any]:
    """A fresh P-256 key as a private JWK, its kid the RFC 7638 thumbprint."""
    key = ECKey.generate_key("P-256")
    jwk = dict(key.as_dict(private=True))
    jwk.update(kid=key.thumbprint(), alg="ES256", use="sig")
    return jwk


def _import(jwk_or_pem: dict[str, Any] | bytes) -> ECKey | RSAKey:
    if isinstance(jwk_or_pem, bytes):
        for cls in (ECKey, RSAKey):
            try:
                key = cls.import_key(jwk_or_pem)
            except (ValueError, TypeError, JoseError):
                continue
            return cls.import_key(jwk_or_pem, {"kid": key.thumbprint()})
        raise ValueError("key file holds no EC or RSA private key in PEM")
    cls = ECKey if jwk_or_pem.get("kty") == "EC" else RSAKey
    return cls.import_key(jwk_or_pem)


class TokenService:
    """Signs and verifies the deployment's tokens. One per process; thread-safe."""

    def __init__(self, settings: Any, repo: Any):
        self.settings = settings
        self.repo = repo
        self.issuer = default_issuer(settings)
        self.audience = default_audience(settings)
        self._keys: dict[str, ECKey | RSAKey] = {}
        self._newest: str | None = None
        self._loaded_at = 0.0
        self._cache: dict[str, tuple[Actor, frozenset]] = {}  # token -> (actor, its audiences)
        self._lock = threading.Lock()
        self._revocations: Any = None  # oauth.store.RevocationList, made on first use

    # -- keys ------------------------------------------------------------------------------
    def _load_keys(self) -> None:
        if self.settings.key_file:
            with open(self.settings.key_file, "rb") as f:
                keys = [_import(f.read())]
        else:
            keys = [_import(jwk) for jwk in self.repo.signing_keys()]
        self._keys = {k.kid: k for k in keys}
        self._newest = keys[0].kid if keys else None
        self._loaded_at = time.monotonic()

    def signing_key(self) -> ECKey | RSAKey:
        """The newest key; on first use with keys in the database, one is made and stored.
        A key added by `ehelse keys rotate` is picked up within a minute."""
        with self._lock:
            if self._newest is None or time.monotonic() - self._loaded_at > _SIGNING_REFRESH:
                self._load_keys()
            if self._newest is None:
                self.repo.add_signing_key(new_signing_key())
                self._load_keys()
            return self._keys[self._newest]

    def _key_for(self, kid: str) -> ECKey | RSAKey | None:
        key = self._keys.get(kid)
        # Another process (or `ehelse token`) may have added a key since we loaded: look
        # again, but not more often than every few seconds, so forged kids cost little.
        if key is None and time.monotonic() - self._loaded_at > _RELOAD_INTERVAL:
            with self._lock:
                self._load_keys()
            key = self._keys.get(kid)
        return key

    def public_jwks(self) -> dict[str, Any]:
        """Every verifying key as a public JWK Set (RFC 7517 section 5): the newest signs,
        the older ones still verify the tokens they signed until those expire."""
        self.signing_key()  # a fresh database gets its first key here too
        with self._lock:
            self._load_keys()
            keys = list(self._keys.values())
        out = []
        for key in keys:
            jwk = dict(key.as_dict(private=False))
            jwk.update(kid=key.kid, alg=ALGORITHMS[key.key_type], use="sig")
            out.append(jwk)
        return {"keys": out}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """Sign any claims with the newest key: access tokens, id_tokens (the one signing path)."""
        key = self.signing_key()
        header = {"alg": ALGORITHMS[key.key_type], "kid": key.kid, "typ": typ}
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    # -- making tokens -----------------------------------------------------------------------
    def issue(self, actor: str, *, for_patient: str | None = None, organization: str | None = None,
              purpose: str | None = None, reason: str | None = None, scope: str | None = None,
              audience: str | None = None, lifetime: int | None = None,
              extra: dict[str, Any] | None = None) -> str:
        """A signed token for `actor` ("admin", "patient:<fnr>", "practitioner:<hpr>" or
        "system:<client_id>"). `extra`: further claims that override the defaults (the
        authorisation server's client_id, fhirUser as Patient/<id>, jti)."""
        kind, _, subject = actor.partition(":")
        if kind == "admin":
            subject = subject or "admin"
        elif kind not in ("patient", "practitioner", "system") or not subject:
            raise BadRequest(f"--as must be admin, patient:<fnr> or practitioner:<hpr>, not {actor!r}")
        if purpose is not None and purpose not in PURPOSES:
            raise BadRequest(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": audience or self.audience, "sub": subject,
            "iat": now, "exp": now + (lifetime or self.settings.token_lifetime), "jti": uuid.uuid4().hex,
            "ehelse_actor": f"{kind}:{subject}", "scope": scope or DEFAULT_SCOPES[kind],
        }
        if kind == "patient":
            claims["fhirUser"] = f"Patient?identifier={FNR_SYSTEM}|{subject}"
            claims["patient"] = for_patient or subject  # SMART patient context
        elif kind == "practitioner":
            claims["fhirUser"] = f"Practitioner?identifier={HPR_SYSTEM}|{subject}"
            if for_patient:
                claims["patient"] = for_patient
            claims["authorization_details"] = [_tillitsrammeverk(organization, purpose, reason)]
        claims.update(extra or {})
        return self.sign(claims)

    # -- verifying tokens --------------------------------------------------------------------
    def verify(self, token: str, request_audience: str | None = None) -> Actor:
        """The Actor a bearer token speaks for; Unauthorized (401) for anything not right.
        `request_audience` is the FHIR base URL the request came to, also accepted as aud."""
        # The cache holds only tokens whose signature, issuer and expiry were verified here,
        # keyed by the exact token string (any other string, even one byte off, is verified
        # afresh); each entry dies with its token's `exp`. The audience is checked on every
        # use, since it depends on the URL the request came to.
        hit = self._cache.get(token)
        if hit is not None:
            actor, audiences = hit
            if actor.claims["exp"] <= time.time():
                self._cache.pop(token, None)
                raise _invalid("token expired")
            if self.audience not in audiences and request_audience not in audiences:
                raise _invalid("wrong audience")
        else:
            actor = self._verify(token, request_audience)
            audiences = actor.claims.get("aud")
            audiences = frozenset(audiences if isinstance(audiences, list) else [audiences])
            with self._lock:
                while len(self._cache) >= _CACHE_LIMIT:  # bounded: the oldest entry goes
                    try:
                        self._cache.pop(next(iter(self._cache)), None)
                    except (RuntimeError, StopIteration):  # an expired entry left meanwhile
                        break
                self._cache[token] = (actor, audiences)
        # Revoked (RFC 7009) before it expired: a set lookup, refreshed from the database
        # every few seconds (oauth/store.RevocationList), so the bound holds for all processes.
        if self.revocations.is_revoked(actor.token_id):
            raise _invalid("token revoked")
        return actor

    @property
    def revocations(self) -> Any:
        if self._revocations is None:
            from ehelse.oauth.store import RevocationList, store_for

            self._revocations = RevocationList(store_for(self.repo))
        return self._revocations

    def claims_of(self, token: str, request_audience: str | None = None) -> dict[str, Any]:
        """The verified claims of one of our tokens (Unauthorized if not valid or revoked)."""
        return self.verify(token, request_audience).claims

    def _verify(self, token: str, request_audience: str | None) -> Actor:
        header = _header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS.values():  # alg "none", HS256 with a public key, ...
            raise _invalid(f"algorithm {alg!r} not accepted")
        key = self._key_for(str(header.get("kid", "")))
        if key is None:
            raise _invalid("unknown signing key (kid)")
        if ALGORITHMS[key.key_type] != alg:
            raise _invalid("algorithm does not match the key")
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except (JoseError, ValueError):
            raise _invalid("bad signature") from None
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= now:
            raise _invalid("token expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and nbf > now + 60:
            raise _invalid("token not yet valid")
        if claims.get("iss") != self.issuer:
            raise _invalid("wrong issuer")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not {self.audience, request_audience} & set(audiences):
            raise _invalid("wrong audience")
        return actor_from_claims(claims)


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    kind, _, subject = str(claims.get("ehelse_actor", "")).partition(":")
    if kind not in DEFAULT_SCOPES or not subject:
        raise _invalid("token names no actor")
    organization = purpose = reason = None
    for detail in claims.get("authorization_details") or []:
        if isinstance(detail, dict) and detail.get("type") == TILLITSRAMMEVERK:
            organization = _dig(detail, "practitioner", "legal_entity", "id")
            purpose = _dig(detail, "care_relationship", "purpose_of_use", "code")
            reason = _dig(detail, "care_relationship", "purpose_of_use_details", "text")
    scope = claims.get("scope")
    return Actor(kind=kind, subject=subject, scopes=tuple(scope.split()) if isinstance(scope, str) else (),
                 patient=claims.get("patient"), organization=organization, purpose=purpose,
                 reason=reason, token_id=claims.get("jti"), claims=claims)


def _tillitsrammeverk(organization: str | None, purpose: str | None, reason: str | None) -> dict[str, Any]:
    # The shape HelseID uses for the "tillitsrammeverk" (trust framework) attestation; the
    # purpose code is from HL7 v3 PurposeOfUse. `text` on the details carries the reason.
    detail: dict[str, Any] = {"type": TILLITSRAMMEVERK}
    if organization:
        detail["practitioner"] = {"legal_entity": {"id": organization, "system": ENH_SYSTEM}}
    if purpose or reason:
        care: dict[str, Any] = {}
        if purpose:
            care["purpose_of_use"] = {"code": purpose, "system": PURPOSE_SYSTEM}
        if reason:
            care["purpose_of_use_details"] = {"text": reason}
        detail["care_relationship"] = care
    return detail


def _dig(value: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("not a signed JWT")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError):
        raise _invalid("malformed token header") from None
    if not isinstance(header, dict):
        raise _invalid("malformed token header")
    return header


def _invalid(why: str) -> Unauthorized:
    # RFC 6750 section 3: a 401 for a bad token names the scheme and the error.
    return Unauthorized(f"Invalid bearer token: {why}",
                        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{why}"'})


def missing_token() -> Unauthorized:
    return Unauthorized("This request needs a bearer token (Authorization: Bearer ...)",
                        headers={"WWW-Authenticate": 'Bearer realm="ehelse"'})
