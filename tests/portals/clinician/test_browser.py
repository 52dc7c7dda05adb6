"""The clinician workspace in a real browser (Debian chromium through Playwright), against a
live server, with the effects checked through the FHIR API where another portal is involved:
the GP documents a note and a blood pressure the patient's token then reads; a hospital doctor
without a relationship gets 403, opens emergency access and leaves an ETREAT AuditEvent; a
block holds; a referral lands in the department's inbox; a Slot the GP opens is booked with
the patient's token. axe-core on every route in both languages; one journey by keyboard only.
Screenshots land in tests/portals/screenshots/ (looked at by hand)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from ehelse.nobasis.seed import DEMO_CAST
from portals.browser import assert_accessible, axe_violations, new_page, screenshot, shows
from portals.conftest import api_token

P = "/helsepersonell"


def login(page, base: str, key: str) -> None:
    member = DEMO_CAST[key]
    page.goto(f"{base}{P}/logg-inn")
    page.get_by_role("link", name="Logg inn med HelseID").or_(page.get_by_role("link", name="Log in with HelseID")).click()
    page.fill("#hpr", member.hpr)
    page.fill("#orgnr", member.orgnr)
    page.select_option("#role", "sykepleier" if key == "nurse" else "lege")
    page.locator('form[action="/login/helseid"] button[type="submit"]').click()
    page.wait_for_url(f"{base}{P}/")


def fhir(live_server, token: str, path: str, **params) -> dict:
    response = httpx.get(f"{live_server.url}/fhir/{path}", params=params, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


ROUTES = ["/", "/pasienter?q=Hansen", "/pasient/demo-astrid", "/pasient/demo-astrid/tilgang", "/timebok",
          "/hurtigtaster", "/tilgjengelighet"] + [f"/pasient/demo-astrid/ny/{k}" for k in
                                                 ("note", "measurement", "problem", "medication", "referral", "reply",
                                                  "questionnaire")]
TABLET = {"width": 768, "height": 1024}


def _with_lang(route: str, lang: str) -> str:
    return f"{P}{route}{'&' if '?' in route else '?'}lang={lang}"


@pytest.fixture(scope="module")
def gp_page(browser, live_server):
    """One signed-in GP context for the module: the axe checks visit each route once."""
    page = new_page(browser, "desktop")
    login(page, live_server.url, "gp")
    yield page
    page.context.close()


@pytest.mark.parametrize("lang", ["nb", "en"])  # one test per language, so they can be distributed
def test_axe_on_every_route(gp_page, live_server, lang):
    for route in ROUTES:
        gp_page.goto(live_server.url + _with_lang(route, lang))
        assert_accessible(gp_page, f"{route} {lang}")


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_axe_on_the_refusal_block_and_emergency_pages(browser, live_server, lang):
    doctor = new_page(browser, "desktop")  # the hospital doctor has no relationship with Emma
    login(doctor, live_server.url, "hospital_doctor")
    for route in ("/pasient/demo-emma", "/pasient/demo-emma/tilgang", "/pasient/demo-per"):
        doctor.goto(live_server.url + _with_lang(route, lang))
        assert_accessible(doctor, f"{route} {lang}")
    doctor.context.close()


def test_the_axe_helper_reports_a_planted_violation_on_a_workspace_page(gp_page, live_server):
    """The check is real: an unlabelled input planted in the summary is reported."""
    gp_page.goto(live_server.url + _with_lang("/pasient/demo-astrid", "nb"))
    assert axe_violations(gp_page) == []
    gp_page.evaluate("""() => { const input = document.createElement('input'); input.type = 'text';
        document.querySelector('main').appendChild(input); }""")
    assert "label" in [v["id"] for v in axe_violations(gp_page)]
    with pytest.raises(AssertionError, match="label"):
        assert_accessible(gp_page, "planted")


@pytest.mark.parametrize("width", ["desktop", "tablet"])
def test_screenshots_of_the_main_pages(browser, live_server, width):
    """Looked at by hand (tests/portals/screenshots/clinician-*-desktop.png / -tablet.png)."""
    viewport = TABLET if width == "tablet" else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=viewport, locale="nb-NO")
    context.set_default_timeout(10_000)
    page = context.new_page()
    login(page, live_server.url, "gp")
    for name, route in (("day", "/"), ("summary", "/pasient/demo-astrid"), ("form", "/pasient/demo-astrid/ny/measurement")):
        page.goto(live_server.url + _with_lang(route, "nb"))
        if width == "tablet":  # the desktop pages are checked by test_axe_on_every_route
            assert_accessible(page, f"{route} tablet")
        screenshot(page, f"clinician-{name}-{width}")
    context.close()
    doctor = browser.new_context(viewport=viewport, locale="nb-NO").new_page()
    login(doctor, live_server.url, "hospital_doctor")
    doctor.goto(live_server.url + _with_lang("/pasient/demo-emma/tilgang", "nb"))
    screenshot(doctor, f"clinician-emergency-{width}")
    doctor.context.close()


def test_gp_adds_a_note_and_a_blood_pressure_the_patient_then_reads(browser, live_server, portal_repo):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "gp")
    page.get_by_role("link", name="Kari Nordmann").first.click()
    page.get_by_role("link", name="Notat").click()
    page.fill("#f-title", "Kontroll blodtrykk")
    page.fill("#f-text", "Blodtrykket er fint. Ny kontroll om et år.")
    page.get_by_role("button", name="Lagre").click()
    assert shows(page, "Notatet er lagret")
    page.get_by_role("link", name="Måling").click()
    page.fill("#f-systolic", "131")
    page.fill("#f-diastolic", "84")
    page.get_by_role("button", name="Lagre").click()
    assert shows(page, "131/84")
    screenshot(page, "clinician-after-documenting")
    kari = api_token(portal_repo, f"patient:{DEMO_CAST['kari'].fnr}")
    notes = fhir(live_server, kari, "DocumentReference", patient="Patient/demo-kari", _sort="-date")
    assert any(e["resource"].get("description") == "Kontroll blodtrykk" for e in notes.get("entry", []))
    bp = fhir(live_server, kari, "Observation", patient="Patient/demo-kari", code="http://loinc.org|85354-9", _sort="-date")
    newest = bp["entry"][0]["resource"]
    assert [c["valueQuantity"]["value"] for c in newest["component"]] == [131, 84]


def test_hospital_doctor_403_then_emergency_access_and_audit(browser, live_server, portal_repo):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "hospital_doctor")
    response = page.goto(f"{live_server.url}{P}/pasient/demo-kari")
    assert response.status == 403
    page.get_by_label("Akutt behandling (ETREAT)").check()
    page.fill("#f-reason", "Innlagt akutt med brystsmerter")
    page.get_by_role("button", name="Åpne med akutt tilgang").click()
    page.wait_for_url(f"{live_server.url}{P}/pasient/demo-kari")
    assert shows(page, "Akutt tilgang (nødrett, ETREAT) er aktiv")
    screenshot(page, "clinician-emergency")
    admin = api_token(portal_repo, "admin")
    events = fhir(live_server, admin, "AuditEvent", entity="Patient/demo-kari", _count=500)
    purposes = {c["code"] for e in events.get("entry", []) for a in e["resource"]["agent"]
                for p in a.get("purposeOfUse") or [] for c in p["coding"]}
    assert "ETREAT" in purposes


def test_blocked_practitioner_is_refused_even_with_emergency_access(browser, live_server):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "hospital_doctor")
    response = page.goto(f"{live_server.url}{P}/pasient/demo-per")
    assert response.status == 403
    assert shows(page, "blokkert")
    assert page.locator('input[name="purpose"]').count() == 0  # no emergency form is offered
    screenshot(page, "clinician-blocked")


def test_referral_from_the_gp_appears_in_the_departments_inbox(browser, live_server):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "gp")
    page.goto(f"{live_server.url}{P}/pasient/demo-ola/ny/referral")
    page.select_option("#f-organization", f"Organization/{DEMO_CAST['hospital_doctor'].organization_id}")
    page.fill("#f-what", "Vurdering av hjertebank")
    page.get_by_role("button", name="Lagre").click()
    assert shows(page, "Henvisningen er sendt")
    doctor = new_page(browser, "desktop")
    # no waiting: the referral's write dropped the server's cached care sets (access/care.py)
    login(doctor, live_server.url, "hospital_doctor")
    inbox = doctor.locator("#h-inbox").locator("..")
    assert "Vurdering av hjertebank" in inbox.inner_text()
    inbox.get_by_role("link", name="Ola Nordmann").first.click()
    assert doctor.url.endswith("/pasient/demo-ola")


def test_slot_opened_by_the_gp_is_booked_with_the_patients_token(browser, live_server, portal_repo):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "gp")
    page.goto(f"{live_server.url}{P}/timebok")
    day = (date.today() + timedelta(days=2)).isoformat()
    page.fill("#f-date", day)
    page.fill("#f-time", "07:20")
    page.get_by_role("button", name="Åpne time").click()
    assert shows(page, "Timen er åpnet")
    # the citizen portal's scopes (citizen/context.py PORTAL_SCOPES): book = create an Appointment
    kari = api_token(portal_repo, f"patient:{DEMO_CAST['kari'].fnr}", scope="openid fhirUser launch/patient patient/*.*")
    slots = fhir(live_server, kari, "Slot", start=f"{day}T07:20:00+01:00", status="free")
    slot = next(e["resource"] for e in slots.get("entry", []) if e["resource"]["start"].startswith(f"{day}T07:20"))
    booked = httpx.post(f"{live_server.url}/fhir/Appointment", headers={"authorization": f"Bearer {kari}",
                                                                         "content-type": "application/fhir+json"},
                        json={"resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot['id']}"}],
                              "start": slot["start"], "end": slot["end"],
                              "participant": [{"actor": {"reference": "Patient/demo-kari"}, "status": "accepted"}]})
    assert booked.status_code == 201, booked.text


def test_keyboard_only_find_patient_open_summary_add_measurement(browser, live_server, portal_repo):
    page = new_page(browser, "desktop")
    login(page, live_server.url, "gp")
    page.keyboard.press("Alt+Shift+S")  # the documented shortcut: to the search page
    page.wait_for_url(f"{live_server.url}{P}/pasienter")
    page.keyboard.press("Alt+Shift+S")  # again: focus in the search box
    page.keyboard.type("Astrid Hansen")
    page.wait_for_selector("#patient-results a")
    for _ in range(40):  # Tab to the result link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Astrid Hansen":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{P}/pasient/demo-astrid")
    page.keyboard.press("Alt+Shift+M")  # new measurement
    page.wait_for_url(f"{live_server.url}{P}/pasient/demo-astrid/ny/measurement")
    page.focus("#f-vital")  # noqa: the select is the form's first field; Tab order from here is checked
    page.keyboard.press("Tab")
    page.keyboard.type("142")
    page.keyboard.press("Tab")
    page.keyboard.type("88")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{P}/pasient/demo-astrid")
    assert shows(page, "142/88")
    screenshot(page, "clinician-keyboard-journey")
