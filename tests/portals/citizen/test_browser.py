"""End to end in Debian's chromium as the demo cast, with axe-core on every route in both
languages at desktop and phone width, and one journey with the keyboard alone."""

from __future__ import annotations

import re

import orjson
import pytest

from ehelse.nobasis.seed import DEMO_CAST

from portals.browser import assert_accessible, login, new_page, screenshot
from portals.conftest import api_token

ROUTES = ["/innbygger/", "/innbygger/velg-person", "/innbygger/journal", "/innbygger/legemidler",
          "/innbygger/provesvar", "/innbygger/provesvar/85354-9", "/innbygger/dokumenter", "/innbygger/meldinger",
          "/innbygger/timer", "/innbygger/egenmaling", "/innbygger/skjema", "/innbygger/personvern",
          "/innbygger/fullmakt", "/innbygger/last-ned", "/innbygger/last-ned/sammendrag", "/innbygger/tilgjengelighet"]


@pytest.mark.slow
def test_axe_on_every_route_both_languages_desktop_and_phone(browser, live_server):
    for viewport in ("desktop", "phone"):
        page = new_page(browser, viewport)
        login(page, live_server.url, DEMO_CAST["astrid"].fnr)
        for lang in ("nb", "en"):
            for route in ROUTES:
                page.goto(f"{live_server.url}{route}?lang={lang}")
                assert_accessible(page, f"{route} {lang} {viewport}")
        screenshot(page, f"summary-{viewport}")
        page.goto(f"{live_server.url}/innbygger/provesvar/85354-9?lang=nb")
        screenshot(page, f"bloodpressure-{viewport}")
        page.goto(f"{live_server.url}/innbygger/?lang=nb")
        screenshot(page, f"overview-{viewport}")
        page.context.close()
    page = new_page(browser)
    page.goto(f"{live_server.url}/innbygger/logg-inn")
    assert_accessible(page, "login page")
    page.context.close()


def test_parent_sees_the_9_year_old_and_limited_14_year_old(browser, live_server):
    page = new_page(browser)
    login(page, live_server.url, DEMO_CAST["kari"].fnr)
    page.goto(f"{live_server.url}/innbygger/velg-person")
    page.get_by_role("radio", name=re.compile("^Emma Nordmann")).check()
    page.get_by_role("button", name="Bytt").click()
    assert "Du handler på vegne av Emma Nordmann" in page.content()
    page.goto(f"{live_server.url}/innbygger/journal")
    screenshot(page, "kari-as-emma-record")
    page.goto(f"{live_server.url}/innbygger/velg-person")
    page.get_by_role("radio", name=re.compile("^Jonas Nordmann")).check()
    page.get_by_role("button", name="Bytt").click()
    page.goto(f"{live_server.url}/innbygger/journal")
    text = page.content()
    assert "Jonas Nordmann" in text and "angst" not in text.lower()
    assert page.get_by_role("link", name="Dokumenter").count() == 0
    page.context.close()


def test_daughter_acts_for_her_mother_and_a_home_measurement_is_an_observation(browser, live_server, portal_repo):
    page = new_page(browser)
    login(page, live_server.url, DEMO_CAST["liv"].fnr)
    page.goto(f"{live_server.url}/innbygger/velg-person")
    page.get_by_role("radio", name=re.compile("^Astrid Hansen")).check()
    page.get_by_role("button", name="Bytt").click()
    page.goto(f"{live_server.url}/innbygger/egenmaling")
    page.get_by_label("Vekt (kg)").fill("63,4")
    page.locator("form:has(#f-weight) button").click()
    assert "Målingen er lagret" in page.content()
    screenshot(page, "liv-as-astrid-weight")
    import httpx

    token = api_token(portal_repo, "practitioner:" + DEMO_CAST["gp"].hpr, organization=DEMO_CAST["gp"].orgnr, purpose="TREAT")
    found = httpx.get(f"{live_server.url}/fhir/Observation", params={"patient": "Patient/demo-astrid", "code": "http://loinc.org|29463-7",
                      "performer": "Patient/demo-astrid"}, headers={"Authorization": f"Bearer {token}"}).json()
    values = [e["resource"]["valueQuantity"]["value"] for e in found.get("entry", [])]
    assert 63.4 in values, found
    page.context.close()


def test_keyboard_journey_login_switch_read_result_send_message(browser, live_server, portal_repo):
    page = new_page(browser)
    base = live_server.url
    page.goto(f"{base}/innbygger/logg-inn")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.textContent.trim()") == "Logg inn":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/idporten")
    page.locator(f'input[name="pid"][value="{DEMO_CAST["kari"].fnr}"]').focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_url(f"{base}/innbygger/**")
    page.goto(f"{base}/innbygger/velg-person")
    page.get_by_role("radio", name=re.compile("^Emma Nordmann")).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/innbygger/")
    page.goto(f"{base}/innbygger/provesvar")
    link = page.locator("table a").first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/innbygger/provesvar/**")
    page.goto(f"{base}/innbygger/meldinger")
    page.locator("#f-text").focus()
    page.keyboard.type("Spørsmål om Emmas vaksiner")
    page.keyboard.press("Tab")  # attachment
    page.keyboard.press("Tab")  # send
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/innbygger/meldinger/**")
    assert "Meldingen er sendt" in page.content()
    screenshot(page, "keyboard-message-sent")
    import httpx

    token = api_token(portal_repo, "practitioner:" + DEMO_CAST["gp"].hpr, organization=DEMO_CAST["gp"].orgnr, purpose="TREAT")
    found = httpx.get(f"{base}/fhir/Communication", params={"subject": "Patient/demo-emma"},
                      headers={"Authorization": f"Bearer {token}"}).json()
    texts = [p.get("contentString") for e in found.get("entry", []) for p in e["resource"].get("payload", [])]
    assert "Spørsmål om Emmas vaksiner" in texts, orjson.dumps(found)[:500]
    page.context.close()
