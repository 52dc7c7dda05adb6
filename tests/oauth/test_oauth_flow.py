"""The authorisation code flow with PKCE, driven through the ASGI app as a browser and an
app would: login page -> consent -> code -> token -> FHIR call (SMART App Launch 2.0)."""

from __future__ import annotations

import pytest
from joserfc import jwt
from oauth_flow import (BASE, EMMA, KARI, NINA_HPR, REDIRECT, approve, authorize_citizen, csrf, exchange,
                        introspect, login_citizen, login_personnel, pkce, query_of, start)

from ehelse.oauth.authorize import create_launch

pytestmark = pytest.mark.anyio


async def test_citizen_standalone_flow(browser, public_client, app):
    code, verifier = await authorize_citizen(browser)
    r = await exchange(browser, code, verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["scope"] == "openid fhirUser offline_access patient/*.rs"
    assert body["patient"] == "demo-kari"  # standalone: the citizen's own record
    assert body["refresh_token"]
    claims = await introspect(browser, body["access_token"], body["access_token"])
    assert claims["active"] is True
    assert claims["ehelse_actor"] == f"patient:{KARI}"
    assert claims["fhirUser"] == "Patient/demo-kari"
    assert claims["patient"] == "demo-kari"
    assert claims["client_id"] == "testapp"
    assert claims["aud"] == f"{BASE}/fhir"
    # the id_token names the person as a FHIR resource (scopes-and-launch-context.html#fhiruser)
    id_claims = jwt.decode(body["id_token"], app.state.tokens.signing_key()).claims
    assert id_claims["fhirUser"] == "Patient/demo-kari" and id_claims["aud"] == "testapp"
    assert id_claims["acr"] == "idporten-loa-high"
    # the token is accepted by /fhir (what it may see is the access rules' business)
    fhir = await browser.get("/fhir/Patient/demo-kari", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert fhir.status_code in (200, 403), fhir.text
    assert fhir.status_code != 401


async def test_v1_scopes_are_accepted_and_mapped(browser, public_client):
    code, verifier = await authorize_citizen(browser, scope="openid fhirUser patient/*.read")
    body = (await exchange(browser, code, verifier)).json()
    assert body["scope"] == "openid fhirUser patient/*.rs"
    assert "refresh_token" not in body  # no offline_access asked


async def test_replayed_code_is_refused_and_its_tokens_revoked(browser, public_client):
    code, verifier = await authorize_citizen(browser)
    first = (await exchange(browser, code, verifier)).json()
    again = await exchange(browser, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # RFC 6749 section 4.1.2: the tokens issued from the code are revoked
    r = await browser.get("/fhir/Patient/demo-kari", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert r.status_code == 401 and "revoked" in r.text
    refresh = await browser.post("/oauth2/token", data={"grant_type": "refresh_token", "client_id": "testapp",
                                                        "refresh_token": first["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_pkce_mismatch(browser, public_client):
    code, _ = await authorize_citizen(browser)
    wrong, _ = pkce()
    r = await exchange(browser, code, wrong)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and "PKCE" in r.json()["error_description"]


async def test_public_client_must_use_pkce(browser, public_client):
    r = await browser.get("/oauth2/authorize", params={"response_type": "code", "client_id": "testapp",
                                                       "redirect_uri": REDIRECT, "scope": "openid", "state": "x"})
    assert r.status_code == 303
    q = query_of(r.headers["location"])
    assert q["error"] == "invalid_request" and q["state"] == "x"


async def test_plain_pkce_refused(browser, public_client):
    r = await start(browser, "openid", "x" * 43, code_challenge_method="plain")
    assert query_of(r.headers["location"])["error"] == "invalid_request"


async def test_scope_escalation_at_authorize(browser, public_client):
    _, challenge = pkce()
    r = await start(browser, "openid patient/*.cruds", challenge)  # the client may only ask .rs
    q = query_of(r.headers["location"])
    assert q["error"] == "invalid_scope" and "patient/*.cruds" in q["error_description"]


async def test_system_scopes_not_by_authorize(browser, store):
    from ehelse.oauth import clients

    clients.register(store, name="x", redirect_uris=[REDIRECT], client_id="sysapp", scope="openid system/*.rs")
    _, challenge = pkce()
    r = await start(browser, "system/*.rs", challenge, client_id="sysapp")
    assert query_of(r.headers["location"])["error"] == "invalid_scope"


async def test_unknown_client_and_bad_redirect_are_pages_not_redirects(browser, public_client):
    r = await browser.get("/oauth2/authorize", params={"client_id": "nobody", "redirect_uri": REDIRECT})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    r = await browser.get("/oauth2/authorize", params={"client_id": "testapp", "redirect_uri": "https://evil.example/cb"})
    assert r.status_code == 400 and "location" not in r.headers


async def test_wrong_audience_refused(browser, public_client):
    _, challenge = pkce()
    r = await start(browser, "openid", challenge, aud="https://other.example/fhir")
    assert query_of(r.headers["location"])["error"] == "invalid_request"


async def test_user_denies(browser, public_client):
    _, challenge = pkce()
    await start(browser, "openid patient/*.rs", challenge)
    await login_citizen(browser)
    page = await browser.get("/oauth2/consent")
    r = await browser.post("/oauth2/consent", data={"decision": "deny", "csrf_token": csrf(page.text)})
    assert query_of(r.headers["location"])["error"] == "access_denied"


async def test_code_for_another_client_or_redirect(browser, public_client, store):
    from ehelse.oauth import clients

    clients.register(store, name="other", redirect_uris=[REDIRECT], client_id="other", scope="openid")
    code, verifier = await authorize_citizen(browser)
    r = await exchange(browser, code, verifier, client_id="other")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_refresh_rotates_and_old_one_is_refused(browser, public_client):
    code, verifier = await authorize_citizen(browser)
    first = (await exchange(browser, code, verifier)).json()
    data = {"grant_type": "refresh_token", "client_id": "testapp", "refresh_token": first["refresh_token"]}
    second = await browser.post("/oauth2/token", data=data)
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"] and rotated["patient"] == "demo-kari"
    reuse = await browser.post("/oauth2/token", data=data)  # the rotated-away token again
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # reuse of a rotated token revokes the family: the newest refresh token dies too
    newest = await browser.post("/oauth2/token", data={**data, "refresh_token": rotated["refresh_token"]})
    assert newest.status_code == 400


async def test_refresh_may_narrow_but_not_widen(browser, public_client):
    code, verifier = await authorize_citizen(browser, scope="openid offline_access patient/Observation.rs")
    first = (await exchange(browser, code, verifier)).json()
    data = {"grant_type": "refresh_token", "client_id": "testapp", "refresh_token": first["refresh_token"]}
    wider = await browser.post("/oauth2/token", data={**data, "scope": "offline_access patient/*.rs"})
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    narrower = await browser.post("/oauth2/token", data={**data, "scope": "offline_access patient/Observation.r"})
    assert narrower.status_code == 200 and narrower.json()["scope"] == "offline_access patient/Observation.r"


async def test_revoked_refresh_token_refused(browser, public_client):
    code, verifier = await authorize_citizen(browser)
    first = (await exchange(browser, code, verifier)).json()
    r = await browser.post("/oauth2/revoke", data={"token": first["refresh_token"], "client_id": "testapp"})
    assert r.status_code == 200
    refused = await browser.post("/oauth2/token", data={"grant_type": "refresh_token", "client_id": "testapp",
                                                        "refresh_token": first["refresh_token"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert (await introspect(browser, first["refresh_token"], first["access_token"]))["active"] is False


async def test_standalone_patient_picker_for_a_parent(browser, public_client):
    verifier, challenge = pkce()
    await start(browser, "openid fhirUser launch/patient patient/*.rs", challenge)
    r = await login_citizen(browser)
    assert r.headers["location"] == "/oauth2/picker"
    page = await browser.get("/oauth2/picker")
    assert "Emma Nordmann" in page.text and "Kari Nordmann" in page.text
    picked = await browser.post("/oauth2/picker", data={"patient": "demo-emma", "csrf_token": csrf(page.text)})
    result = await approve(browser, picked)
    body = (await exchange(browser, result["code"], verifier)).json()
    assert body["patient"] == "demo-emma"
    claims = await introspect(browser, body["access_token"], body["access_token"])
    assert claims["patient"] == "demo-emma" and claims["ehelse_actor"] == f"patient:{KARI}"
    assert claims["fhirUser"] == "Patient/demo-kari"  # who is logged in stays the parent


async def test_picker_refuses_someone_not_offered(browser, public_client):
    _, challenge = pkce()
    await start(browser, "openid launch/patient patient/*.rs", challenge)
    await login_citizen(browser, EMMA)  # Emma represents nobody
    page = await browser.get("/oauth2/picker")
    r = await browser.post("/oauth2/picker", data={"patient": "demo-kari", "csrf_token": csrf(page.text)})
    assert r.status_code == 400


async def test_ehr_launch_for_a_clinician(browser, public_client, app):
    launch = create_launch(app.state.oauth, "demo-emma", encounter_id="enc-1", user=NINA_HPR)
    verifier, challenge = pkce()
    first = await start(browser, "openid fhirUser launch user/*.rs", challenge, launch=launch)
    assert first.headers["location"] == "/login/helseid"
    r = await login_personnel(browser)
    result = await approve(browser, r)
    body = (await exchange(browser, result["code"], verifier)).json()
    assert body["patient"] == "demo-emma" and body["encounter"] == "enc-1"
    claims = await introspect(browser, body["access_token"], body["access_token"])
    assert claims["ehelse_actor"] == f"practitioner:{NINA_HPR}"
    assert claims["fhirUser"] == "Practitioner/demo-nina"
    detail = claims["authorization_details"][0]
    assert detail["type"] == "nhn:tillitsrammeverk:parameters"
    assert detail["practitioner"]["legal_entity"]["id"] == "979513763"
    assert detail["care_relationship"]["purpose_of_use"]["code"] == "TREAT"


async def test_ehr_launch_bound_to_its_user(browser, public_client, app):
    launch = create_launch(app.state.oauth, "demo-emma", user="111111111")
    _, challenge = pkce()
    await start(browser, "openid launch user/*.rs", challenge, launch=launch)
    result = await login_personnel(browser)
    page = await browser.get(result.headers["location"])
    done = await browser.post("/oauth2/consent", data={"decision": "approve", "csrf_token": csrf(page.text)})
    assert query_of(done.headers["location"])["error"] == "access_denied"


async def test_unknown_launch_refused(browser, public_client):
    _, challenge = pkce()
    r = await start(browser, "openid launch user/*.rs", challenge, launch="made-up")
    assert query_of(r.headers["location"])["error"] == "invalid_request"


async def test_emergency_login_needs_a_reason(browser):
    r = await login_personnel(browser, purpose="BTG")
    assert r.status_code == 200 and "begrunnelse" in r.text.lower()
    ok = await login_personnel(browser, purpose="BTG", reason="Bevisstløs pasient")
    assert ok.status_code == 303


async def test_clinician_standalone_picks_patient_by_fnr(browser, public_client):
    verifier, challenge = pkce()
    await start(browser, "openid fhirUser launch/patient user/*.rs", challenge)
    r = await login_personnel(browser)
    assert r.headers["location"] == "/oauth2/picker"
    page = await browser.get("/oauth2/picker")
    assert 'name="patient"' in page.text
    picked = await browser.post("/oauth2/picker", data={"patient": EMMA, "csrf_token": csrf(page.text)})
    body = (await exchange(browser, (await approve(browser, picked))["code"], verifier)).json()
    assert body["patient"] == "demo-emma"


async def test_logged_in_citizen_is_not_used_for_a_clinician_app(browser, public_client):
    await login_citizen(browser)
    _, challenge = pkce()
    r = await start(browser, "openid user/*.rs", challenge)
    assert r.headers["location"] == "/login/helseid"


async def test_existing_session_skips_the_login(browser, public_client):
    await login_citizen(browser)
    _, challenge = pkce()
    r = await start(browser, "openid patient/*.rs", challenge)
    assert r.headers["location"] == "/oauth2/consent"


async def test_online_access_ends_with_the_session(browser, public_client):
    code, verifier = await authorize_citizen(browser, scope="openid online_access patient/*.rs")
    body = (await exchange(browser, code, verifier)).json()
    data = {"grant_type": "refresh_token", "client_id": "testapp", "refresh_token": body["refresh_token"]}
    refreshed = await browser.post("/oauth2/token", data=data)
    assert refreshed.status_code == 200
    page = await browser.get("/login/done")
    await browser.post("/login/logout", data={"csrf_token": csrf(page.text)})
    after = await browser.post("/oauth2/token", data={**data, "refresh_token": refreshed.json()["refresh_token"]})
    assert after.status_code == 400 and "session" in after.json()["error_description"]


async def test_offline_access_outlives_the_session(browser, public_client):
    code, verifier = await authorize_citizen(browser, scope="openid offline_access patient/*.rs")
    body = (await exchange(browser, code, verifier)).json()
    page = await browser.get("/login/done")
    await browser.post("/login/logout", data={"csrf_token": csrf(page.text)})
    r = await browser.post("/oauth2/token", data={"grant_type": "refresh_token", "client_id": "testapp",
                                                  "refresh_token": body["refresh_token"]})
    assert r.status_code == 200
