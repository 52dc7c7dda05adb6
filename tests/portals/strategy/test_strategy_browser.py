"""/strategi and /helsedata in a real browser (Debian chromium through Playwright): axe-core
on every route in both languages at desktop and phone width, an admin editing an indicator,
an analyst running a view and downloading CSV. Screenshots land in tests/portals/screenshots/."""

from __future__ import annotations

import csv
import io

from ehelse.nobasis.seed import DEMO_CAST
from portals.browser import assert_accessible, new_page, screenshot, shows


def helseid_login(page, base: str, start: str, role: str) -> None:
    """The built-in HelseID-style login from a portal's login link, in `role`."""
    gp = DEMO_CAST["gp"]
    page.goto(f"{base}{start}")
    if "/helsedata/" in start:  # /helsedata shows its login button; /strategi goes straight on
        page.get_by_role("link", name="Logg inn med HelseID").click()
    page.fill("#hpr", gp.hpr)
    page.fill("#orgnr", gp.orgnr)
    page.select_option("#role", role)
    page.locator('form[action="/login/helseid"] button[type="submit"]').click()


def test_axe_on_every_route_both_languages_desktop_and_phone(browser, live_server):
    base = live_server.url
    for viewport in ("desktop", "phone"):
        public = new_page(browser, viewport)
        for route in ("/strategi/", "/strategi/indikator/I8", "/strategi/indikator/I4", "/strategi/indikator/nope",
                      "/helsedata/logg-inn"):
            for lang in ("nb", "en"):
                public.goto(f"{base}{route}?lang={lang}")
                assert_accessible(public, f"{route} {lang} {viewport}")
        public.goto(f"{base}/strategi/indikator/I8?lang=nb")
        screenshot(public, f"strategy-indicator-{viewport}")
        admin = new_page(browser, viewport)
        helseid_login(admin, base, "/strategi/logg-inn", "administrator")
        admin.wait_for_url(f"{base}/strategi/")
        for route in ("/strategi/", "/strategi/rediger/I4", "/strategi/rediger/A1", "/helsedata/"):
            for lang in ("nb", "en"):
                admin.goto(f"{base}{route}?lang={lang}")
                assert_accessible(admin, f"{route} {lang} {viewport} (admin)")
        admin.goto(f"{base}/helsedata/?lang=nb")
        admin.get_by_label("Prosjekt").fill("p")
        admin.get_by_label("Formål").fill("kontroll")
        admin.get_by_role("button", name="Kjør").click()
        admin.wait_for_selector("#result-heading")
        assert_accessible(admin, f"helsedata result {viewport}")
        screenshot(admin, f"healthdata-result-{viewport}")
        admin.goto(f"{base}/strategi/?lang=nb")
        screenshot(admin, f"strategy-overview-admin-{viewport}")


def test_admin_edits_an_indicator(browser, live_server):
    page = new_page(browser, "desktop")
    helseid_login(page, live_server.url, "/strategi/logg-inn", "administrator")
    page.wait_for_url(f"{live_server.url}/strategi/")
    page.locator('a[href="/strategi/rediger/I2"]').click()
    page.get_by_label("Mål", exact=True).fill("75")
    page.get_by_label("Målår").fill("2030")
    page.get_by_role("button", name="Lagre").click()
    page.wait_for_url(f"{live_server.url}/strategi/indikator/I2")
    assert shows(page, "Endringen er lagret")
    assert page.locator("table").first.get_by_text("2030").count() >= 1  # the target joins the chart's table
    screenshot(page, "strategy-indicator-edited")


def test_analyst_runs_a_view_and_downloads_csv(browser, live_server):
    page = new_page(browser, "desktop")
    helseid_login(page, live_server.url, "/helsedata/logg-inn", "analytiker")
    page.wait_for_url(f"{live_server.url}/helsedata/")
    page.get_by_label("Visning fra biblioteket").select_option("vaccinations")
    page.get_by_label("Prosjekt").fill("vaksineprosjekt")
    page.get_by_label("Formål").fill("Dekningsgrad per kommune")
    page.get_by_role("button", name="Kjør").click()
    page.wait_for_selector("#result-heading")
    assert shows(page, "Pseudonymisert")
    with page.expect_download() as info:
        page.get_by_role("button", name="Last ned CSV").click()
    download = info.value
    assert download.suggested_filename == "vaccinations-pseudonymisert.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows and "patient_id" in rows[0]
