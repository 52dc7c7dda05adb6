"""The clinician workspace in process (Starlette TestClient on a copy of the seeded database):
login, the day, patient search, the summary through the access rules, emergency access,
blocks, documenting, the schedule, and bad input as 4xx pages."""

from __future__ import annotations

import re

import orjson
import pytest
from starlette.testclient import TestClient

from ehelse.nobasis.seed import DEMO_CAST
from ehelse.settings import get_settings

from testsupport import copy_db

P = "/helsepersonell"


@pytest.fixture(scope="module")
def app(portal_db, tmp_path_factory):
    from ehelse.web.app import create_app

    path = copy_db(portal_db, tmp_path_factory.mktemp("clinician-routes"))
    return create_app(get_settings(database_url=f"sqlite:///{path}", rate_limit=0,
                                   smart_app_url="https://app.example/launch"))


def login(app, key: str) -> TestClient:
    member = DEMO_CAST[key]
    client = TestClient(app, follow_redirects=False)
    assert client.get(P + "/logg-inn").status_code == 200
    page = client.get("/login/helseid")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login/helseid", data={"hpr": member.hpr, "orgnr": member.orgnr, "purpose": "TREAT",
                                                   "role": "sykepleier" if key == "nurse" else "lege",
                                                   "csrf_token": token})
    assert response.headers["location"] == P + "/", response.text[:500]
    return client


def csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def raw_repo(app):
    return app.state.repo


def test_anonymous_visitors_go_to_the_login_page(app):
    client = TestClient(app, follow_redirects=False)
    assert client.get(P + "/pasient/demo-astrid").headers["location"] == P + "/logg-inn"
    assert client.get(P + "/pasienter/sok?q=kari", headers={"hx-request": "true"}).status_code == 401


def test_every_page_renders_in_both_languages_with_server_timing(app):
    client = login(app, "gp")
    pages = ["/", "/pasienter", "/pasienter?q=Nordmann", "/pasient/demo-astrid", "/pasient/demo-astrid/tilgang",
             "/timebok", "/hurtigtaster"] + [f"/pasient/demo-astrid/ny/{k}" for k in
                                             ("note", "measurement", "problem", "medication", "referral", "reply",
                                              "questionnaire")]
    for path in pages:
        for lang in ("nb", "en"):
            response = client.get(f"{P}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert response.status_code == 200, (path, lang, response.text[-800:])
            assert response.headers["server-timing"].startswith("app;dur=")
            assert response.headers["cache-control"] == "no-store"
            assert f'<html lang="{lang}">' in response.text


def test_the_gp_lands_on_the_day_with_the_list_and_the_inbox(app):
    page = login(app, "gp").get(P + "/").text
    assert "Fastlegelisten" in page and "Astrid Hansen" in page and "Innboks" in page
    assert f'href="{P}/pasient/demo-astrid"' in page


def test_type_ahead_finds_by_fnr_name_and_birth_date_and_shows_the_care_relationship(app):
    client = login(app, "gp")
    hx = {"hx-request": "true"}
    by_fnr = client.get(P + f"/pasienter/sok?q={DEMO_CAST['astrid'].fnr}", headers=hx)
    assert by_fnr.status_code == 200 and "<html" not in by_fnr.text  # a fragment
    assert "Astrid Hansen" in by_fnr.text and "Behandlingsrelasjon" in by_fnr.text
    assert "Astrid Hansen" in client.get(P + "/pasienter/sok?q=astrid hansen", headers=hx).text
    born = DEMO_CAST["astrid"].birth_date
    assert "Astrid Hansen" in client.get(P + f"/pasienter/sok?q={born:%d.%m.%Y}", headers=hx).text
    assert "Skriv minst seks siffer" in client.get(P + "/pasienter/sok?q=1184", headers=hx).text
    doctor = login(app, "hospital_doctor")
    assert "Ingen behandlingsrelasjon" in doctor.get(P + f"/pasienter/sok?q={DEMO_CAST['kari'].fnr}", headers=hx).text


def test_summary_shows_the_record_in_one_screen(app):
    page = login(app, "gp").get(P + "/pasient/demo-astrid").text
    for heading in ("Kritisk informasjon og allergier", "Legemidler i bruk", "Aktive problemer", "Siste prøvesvar",
                    "Siste kontakter", "Dokumenter fra alle virksomheter", "Vaksiner", "Pårørende og fastlege"):
        assert heading in page, heading
    assert "<svg" in page and "Hjertesvikt" in page


def test_referral_statuses_are_words_in_the_page_language(app):
    """A referral's status is shown as a word of the page's language (ui/messages.py), not
    as the FHIR code."""
    client = login(app, "gp")
    norwegian = client.get(P + "/pasient/demo-astrid?lang=nb").text
    assert "Henvisning" in norwegian and "(aktiv)" in norwegian and "(avsluttet)" in norwegian
    assert "(active)" not in norwegian and "(completed)" not in norwegian
    english = client.get(P + "/pasient/demo-astrid?lang=en").text
    assert "(active)" in english and "(completed)" in english


def test_a_referral_whose_text_names_it_a_referral_is_not_called_one_twice(app):
    """The seeded referrals' text is "Henvisning til …": the summary does not prefix it with
    "Henvisning" again (seen as "Henvisning Henvisning til …" in a screenshot)."""
    client = login(app, "gp")
    page = client.get(P + "/pasient/demo-astrid?lang=nb").text
    assert "Henvisning til" in page
    assert "Henvisning Henvisning" not in page


def test_without_care_relationship_403_then_emergency_access_with_reason(app):
    client = login(app, "hospital_doctor")
    refused = client.get(P + "/pasient/demo-kari")
    assert refused.status_code == 403 and "akutt tilgang" in refused.text
    token = csrf(client, P + "/pasient/demo-kari/tilgang")
    no_reason = client.post(P + "/pasient/demo-kari/tilgang", data={"purpose": "ETREAT", "reason": "", "csrf_token": token})
    assert no_reason.status_code == 400
    opened = client.post(P + "/pasient/demo-kari/tilgang",
                         data={"purpose": "ETREAT", "reason": "Bevisstløs i mottak", "csrf_token": token})
    assert opened.status_code == 303
    page = client.get(P + "/pasient/demo-kari")
    assert page.status_code == 200 and "Akutt tilgang (nødrett, ETREAT) er aktiv" in page.text
    from ehelse.audit import log
    from ehelse.audit.record import render

    events = [render(r) for r in log.select(raw_repo(app), log.LogQuery(patients=["demo-kari"]))]
    purposes = {c["code"] for e in events for a in e["agent"] for p in a.get("purposeOfUse") or [] for c in p["coding"]}
    assert "ETREAT" in purposes, events[-3:]
    # emergency access is read-only
    token = csrf(client, P + "/pasient/demo-kari/tilgang")
    write = client.post(P + "/pasient/demo-kari/ny/note", data={"text": "x", "csrf_token": token})
    assert write.status_code == 403


def test_a_block_holds_even_with_emergency_access(app):
    client = login(app, "hospital_doctor")
    refused = client.get(P + "/pasient/demo-per")
    assert refused.status_code == 403 and "blokkert" in refused.text and 'name="purpose"' not in refused.text
    token = csrf(client, P + "/pasienter")
    tried = client.post(P + "/pasient/demo-per/tilgang", data={"purpose": "BTG", "reason": "Akutt", "csrf_token": token})
    assert tried.status_code == 403 and "blokkert" in tried.text
    assert client.get(P + "/pasient/demo-per").status_code == 403


def test_documenting_a_note_a_blood_pressure_and_a_problem(app):
    client = login(app, "gp")
    token = csrf(client, P + "/pasient/demo-kari/ny/note")
    assert client.post(P + "/pasient/demo-kari/ny/note", data={"title": "Kontroll", "text": "Alt vel.",
                                                               "csrf_token": token}).status_code == 303
    assert client.post(P + "/pasient/demo-kari/ny/measurement", data={"vital": "blood-pressure", "systolic": "128",
                                                                      "diastolic": "82", "csrf_token": token}).status_code == 303
    bad = client.post(P + "/pasient/demo-kari/ny/measurement", data={"vital": "blood-pressure", "systolic": "80",
                                                                     "diastolic": "120", "csrf_token": token})
    assert bad.status_code == 400 and "Diastolisk" in bad.text
    assert client.post(P + "/pasient/demo-kari/ny/problem", data={"system": "icpc2", "code": "K86|x",
                                                                  "csrf_token": token}).status_code == 303
    assert client.post(P + "/pasient/demo-kari/ny/problem", data={"system": "icpc2", "code": "ZZZ",
                                                                  "csrf_token": token}).status_code == 400
    page = client.get(P + "/pasient/demo-kari").text
    assert "128/82" in page and "Hypertensjon" in page
    assert "K86" in client.get(P + "/kodeverk?system=icpc2&q=hypert").text
    assert client.get(P + "/kodeverk?system=nope&q=x").status_code == 400


def test_withheld_from_parents_label_on_a_note_for_a_14_year_old(app):
    client = login(app, "gp")
    token = csrf(client, P + "/pasient/demo-jonas/ny/note")
    assert 'name="withheld"' in client.get(P + "/pasient/demo-jonas/ny/note").text
    assert client.post(P + "/pasient/demo-jonas/ny/note", data={"title": "Samtale", "text": "Fortrolig.", "withheld": "on",
                                                                "csrf_token": token}).status_code == 303
    notes = [orjson.loads(v.content) for v in raw_repo(app).iter_current("DocumentReference")]
    mine = [n for n in notes if n.get("description") == "Samtale"]
    assert mine and any(s["code"] == "withheld-from-parents" for s in mine[0]["meta"]["security"])


def test_referral_appears_in_the_hospital_departments_inbox(app):
    hospital = login(app, "hospital_doctor")
    hospital.get(P + "/")  # the department's care set is now cached (access/care.py CareFacts)
    gp = login(app, "gp")
    token = csrf(gp, P + "/pasient/demo-kari/ny/referral")
    dept = DEMO_CAST["hospital_doctor"].organization_id
    sent = gp.post(P + "/pasient/demo-kari/ny/referral", data={"organization": f"Organization/{dept}",
                                                               "what": "Utredning av brystsmerter", "csrf_token": token})
    assert sent.status_code == 303
    inbox = hospital.get(P + "/").text  # at once: the referral's write dropped the cached care sets
    assert "Utredning av brystsmerter" in inbox and f"{P}/pasient/demo-kari" in inbox
    assert hospital.get(P + "/pasient/demo-kari").status_code == 200  # a care relationship, no emergency access


def test_schedule_open_and_close_a_slot_and_bad_input(app):
    client = login(app, "gp")
    token = csrf(client, P + "/timebok")
    from datetime import date, timedelta

    day = (date.today() + timedelta(days=3)).isoformat()
    assert client.post(P + "/timebok", data={"date": day, "time": "07:15", "length": "20", "csrf_token": token}).status_code == 303
    page = client.get(P + "/timebok").text
    slot_id = re.search(r'name="close" value="([^"]+)"><button[^>]*>Steng<span class="ds-sr-only"> \d+\. \w+ \d{4} kl\. 07:15', page)
    assert slot_id, page[-2000:]
    assert client.post(P + "/timebok", data={"close": slot_id.group(1), "csrf_token": token}).status_code == 303
    assert client.post(P + "/timebok", data={"date": "2001-01-01", "time": "10:00", "length": "20",
                                             "csrf_token": token}).status_code == 400
    assert client.post(P + "/timebok", data={"date": "x", "time": "y", "length": "7", "csrf_token": token}).status_code == 400


def test_smart_ehr_launch_redirects_with_iss_and_launch(app):
    client = login(app, "gp")
    token = csrf(client, P + "/pasient/demo-astrid")
    response = client.post(P + "/pasient/demo-astrid/app", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://app.example/launch?iss=") and "launch=" in response.headers["location"]


def test_hostile_input_is_a_4xx_page_never_a_500(app):
    client = login(app, "gp")
    token = csrf(client, P + "/pasienter")
    assert client.post(P + "/pasient/demo-kari/ny/note", data={"text": "x"}).status_code == 403  # no CSRF token
    assert client.get(P + "/pasient/finnes-ikke").status_code == 404
    assert client.get(P + "/pasient/demo-kari/ny/nothing").status_code == 404
    assert client.post(P + "/pasient/demo-kari/ny/measurement", data={"vital": "pulse", "value": "NaN",
                                                                      "csrf_token": token}).status_code == 400
    assert client.post(P + "/pasient/demo-kari/ny/referral", data={"organization": "Organization/none", "what": "x",
                                                                   "csrf_token": token}).status_code == 400
    assert client.post(P + "/pasient/demo-kari/ny/medication", data={"stop": "nope", "csrf_token": token}).status_code == 404
    assert client.get(P + "/pasienter?q=" + "%00" * 50).status_code == 200
    assert client.post(P + "/pasient/demo-kari/avslutt-tilgang", data={"csrf_token": token}).status_code == 400


def test_fnr_type_ahead_starts_from_the_birth_date_digits(app):
    from ehelse.portals.clinician.patients import query_for

    client = login(app, "gp")
    number = DEMO_CAST["ola"].fnr
    assert query_for(number[:5]) is None  # five digits: no date yet
    assert query_for("321399") is None  # no such date: no search
    rows = client.get(P + "/pasienter/sok", params={"q": number[:6]}, headers={"hx-request": "true"}).text
    assert "/pasient/demo-ola" in rows
    wrong = number[:6] + ("0" if number[6] != "0" else "1")
    rows = client.get(P + "/pasienter/sok", params={"q": wrong}, headers={"hx-request": "true"}).text
    assert "/pasient/demo-ola" not in rows  # the typed digits after the date narrow the list


def test_smart_ehr_launch_end_to_end_the_app_reads_the_patient_in_context(app):
    """SMART App Launch, EHR launch (http://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch):
    the workspace opens the app with iss and launch; the app (a public client, PKCE S256)
    authorises with scope `launch`, exchanges the code, and reads the patient in context."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    from ehelse.oauth import clients
    from ehelse.oauth.store import store_for

    redirect = "https://app.example/callback"
    clients.register(store_for(raw_repo(app)), name="Launch test app", redirect_uris=[redirect], client_id="launch-app",
                     scope="openid fhirUser launch user/*.rs")
    client = login(app, "gp")
    launched = client.post(P + "/pasient/demo-astrid/app", data={"csrf_token": csrf(client, P + "/pasient/demo-astrid")})
    assert launched.status_code == 303
    target = urlsplit(launched.headers["location"])
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://app.example/launch"
    assert params["iss"].endswith("/fhir") and params["launch"]

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    step = client.get("/oauth2/authorize", params={
        "response_type": "code", "client_id": "launch-app", "redirect_uri": redirect, "scope": "openid fhirUser launch user/*.rs",
        "state": "st-1", "aud": params["iss"], "launch": params["launch"], "code_challenge": challenge,
        "code_challenge_method": "S256"})
    for _ in range(4):  # the clinician is signed in already: at most a consent page on the way
        assert step.status_code in (302, 303), step.text[:500]
        location = step.headers["location"]
        if location.startswith(redirect):
            break
        page = client.get(location)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        step = client.post(location, data={"decision": "approve", "csrf_token": token})
    back = {k: v[0] for k, v in parse_qs(urlsplit(step.headers["location"]).query).items()}
    assert back["state"] == "st-1" and back["code"]

    app_client = TestClient(app, follow_redirects=False)  # the app: no browser session
    issued = app_client.post("/oauth2/token", data={"grant_type": "authorization_code", "code": back["code"],
                                                    "redirect_uri": redirect, "code_verifier": verifier,
                                                    "client_id": "launch-app"})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["patient"] == "demo-astrid"
    read = app_client.get(f"/fhir/Patient/{body['patient']}", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert read.status_code == 200 and read.json()["id"] == "demo-astrid"
    # The code is single use (RFC 6749 4.1.2).
    again = app_client.post("/oauth2/token", data={"grant_type": "authorization_code", "code": back["code"],
                                                   "redirect_uri": redirect, "code_verifier": verifier,
                                                   "client_id": "launch-app"})
    assert again.status_code == 400


def test_accessibility_statement_in_both_languages_linked_from_the_footer(app):
    anonymous = TestClient(app, follow_redirects=False)
    nb = anonymous.get(P + "/tilgjengelighet?lang=nb")
    en = anonymous.get(P + "/tilgjengelighet?lang=en")
    assert nb.status_code == 200 and "Tilgjengelighetserklæring" in nb.text and "helsepersonell" in nb.text
    assert en.status_code == 200 and "Accessibility statement" in en.text and "health personnel" in en.text
    assert f'href="{P}/tilgjengelighet"' in login(app, "gp").get(P + "/").text


def test_the_inbox_shows_whether_the_patient_has_read_a_reply(app):
    repo = raw_repo(app)
    asked = repo.create({"resourceType": "Communication", "status": "completed", "sent": "2026-01-01T10:00:00+01:00",
                         "subject": {"reference": "Patient/demo-kari"}, "sender": {"reference": "Patient/demo-kari"},
                         "payload": [{"contentString": "Kan jeg ta vaksinen nå?"}]})
    client = login(app, "gp")
    token = csrf(client, P + "/pasient/demo-kari/ny/reply")
    sent = client.post(P + "/pasient/demo-kari/ny/reply", data={"message": asked.id, "text": "Ja, bestill time lesesvar-test",
                                                                "csrf_token": token})
    assert sent.status_code == 303, sent.text[:500]
    row = lambda html: re.search(r"lesesvar-test.*?</tr>", html, re.S).group(0)  # noqa: E731
    assert "Ikke lest ennå" in row(client.get(P + "/").text)
    # The citizen portal marks it read by setting `received` (access/writes.py: the only change allowed).
    from ehelse.access.policy import AccessPolicy
    from ehelse.access.repository import SecuredRepository
    from ehelse.access.actor import Actor

    reply = next(orjson.loads(v.content) for v in repo.iter_current("Communication")
                 if "lesesvar-test" in v.content.decode())
    kari = SecuredRepository(repo, Actor("patient", DEMO_CAST["kari"].fnr, ("patient/*.cruds",)), AccessPolicy())
    kari.update({**reply, "received": "2026-01-02T08:00:00+01:00"})
    assert "Lest av pasienten" in row(client.get(P + "/?lang=nb").text)
    assert "Read by the patient" in row(client.get(P + "/?lang=en").text)
