"""/revisjon in a real browser (Debian chromium through Playwright): an admin logs in through
the HelseID-style login, axe-core finds no violations on the report and a record, in both
languages. Screenshot in tests/portals/screenshots/."""

from __future__ import annotations

from ehelse.audit.security import record_security
from portals.browser import assert_accessible, new_page, screenshot
from portals.strategy.test_strategy_browser import helseid_login


def test_admin_review_is_accessible_in_both_languages(browser, live_server, portal_repo):
    record_security(portal_repo, interaction="login", actor_kind="practitioner", actor_id="9144889", ok=False)
    base = live_server.url
    page = new_page(browser, "desktop")
    helseid_login(page, base, "/revisjon/logg-inn", "administrator")
    page.wait_for_url(f"{base}/revisjon/")
    for lang in ("nb", "en"):
        page.goto(f"{base}/revisjon/?since=2000-01-01&lang={lang}")
        assert_accessible(page, f"/revisjon/ {lang}")
    page.goto(f"{base}/revisjon/?since=2000-01-01&lang=nb")
    screenshot(page, "audit-review-desktop")
    page.locator('a[href^="/revisjon/hendelse/"]').first.click()
    page.wait_for_selector("caption")
    for lang in ("nb", "en"):
        page.goto(f"{page.url.split('?')[0]}?lang={lang}")
        assert_accessible(page, f"audit record {lang}")
