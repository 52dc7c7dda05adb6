"""What a grant holds, and turning a grant into tokens.

A grant is the outcome of one authorisation: who (actor, the person logged in), for whom
(the SMART patient context), which client, which scopes, personnel's organisation, purpose
and reason. It is stored with the authorisation code and then with each refresh token, and
every token issued from it carries the same facts.

Token response: RFC 6749 section 5.1 plus SMART App Launch 2.0 (app-launch.html, "Response
body"): `patient`, `encounter` (launch context), `need_patient_banner`, `id_token` (OIDC core
section 3.1.3.3) and `refresh_token` (offline_access / online_access).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from ehelse.oauth import scopes
from ehelse.oauth.store import digest


def new_grant(*, client_id: str, actor: str, scope: str, audience: str, fhir_user: str | None = None,
              patient_fnr: str | None = None, patient_id: str | None = None, encounter_id: str | None = None,
              organization: str | None = None, purpose: str | None = None, reason: str | None = None,
              nonce: str | None = None, auth_time: float | None = None, acr: str | None = None,
              session: str | None = None) -> dict[str, Any]:
    return {"session": session,"client_id": client_id, "actor": actor, "scope": scope, "aud": audience, "fhirUser": fhir_user,
            "patient_fnr": patient_fnr, "patient_id": patient_id, "encounter_id": encounter_id,
            "organization": organization, "purpose": purpose, "reason": reason, "nonce": nonce,
            "auth_time": auth_time or time.time(), "acr": acr}


def issue(server: Any, grant: dict[str, Any], *, family: str, jti: str, scope: str | None = None
          ) -> dict[str, Any]:
    """The token response for a grant (optionally narrowed to `scope`). The caller picks the
    access token's `jti` and the refresh `family`, so it can revoke them later (a replayed
    authorisation code revokes what the code gave: RFC 6749 section 4.1.2)."""
    scope = scope or grant["scope"]
    lifetime = server.settings.token_lifetime
    extra: dict[str, Any] = {"client_id": grant["client_id"], "jti": jti}
    if grant.get("fhirUser"):
        extra["fhirUser"] = grant["fhirUser"]
    access_token = server.tokens.issue(
        # The SMART `patient` claim is the Patient id (the access rules also take an FNR).
        grant["actor"], for_patient=grant.get("patient_id") or grant.get("patient_fnr"), organization=grant.get("organization"),
        purpose=grant.get("purpose"), reason=grant.get("reason"), scope=scope, audience=grant["aud"],
        lifetime=lifetime, extra=extra)
    response: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime,
                                "scope": scope}
    granted = scopes.split(scope)
    if grant.get("patient_id"):
        response["patient"] = grant["patient_id"]
        response["need_patient_banner"] = True
    if grant.get("encounter_id"):
        response["encounter"] = grant["encounter_id"]
    if "openid" in granted and grant.get("fhirUser"):
        response["id_token"] = id_token(server, grant)
    if "offline_access" in granted or "online_access" in granted:
        response["refresh_token"] = new_refresh_token(server, grant, scope, family)
    return response


def id_token(server: Any, grant: dict[str, Any]) -> str:
    """OIDC Core section 2 ID Token; SMART's `fhirUser` claim (scopes-and-launch-context.html)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": server.tokens.issuer, "sub": grant["actor"].partition(":")[2],
                              "aud": grant["client_id"], "iat": now, "exp": now + server.settings.token_lifetime,
                              "auth_time": int(grant["auth_time"]), "fhirUser": grant["fhirUser"]}
    if grant.get("nonce"):
        claims["nonce"] = grant["nonce"]
    if grant.get("acr"):
        claims["acr"] = grant["acr"]
    return server.tokens.sign(claims)


def new_refresh_token(server: Any, grant: dict[str, Any], scope: str, family: str) -> str:
    """A random refresh token, stored by its hash. `family`: the chain of rotations it
    belongs to; when a rotated-away token comes back, the whole family is revoked
    (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2)."""
    token = secrets.token_urlsafe(32)
    lifetime = server.settings.refresh_token_lifetime
    server.store.put("refresh", digest(token), {"grant": grant, "scope": scope, "family": family},
                     expires=time.time() + lifetime)
    return token


def revoke_family(server: Any, family: str) -> None:
    server.store.put("family_revoked", family, {"at": time.time()},
                     expires=time.time() + server.settings.refresh_token_lifetime)


def family_revoked(server: Any, family: str) -> bool:
    return server.store.get("family_revoked", family) is not None
