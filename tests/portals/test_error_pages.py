"""The portals' error pages in a real browser (web/responses.py error_page, served through
portals/ui/mounting.py portal_starlette): with the database unreachable, a person opening a
portal page gets the 503 page, in bokmål with the English part marked as English, readable
at a phone's width and free of WCAG 2.1 A/AA violations (axe-core)."""

from __future__ import annotations

import threading
import time

import pytest

from ehelse.settings import Settings
from ehelse.web.app import create_app
from tests.portals import browser as browser_helpers
from tests.testsupport import free_port

pytestmark = pytest.mark.postgres  # the unreachable database is a PostgreSQL URL


@pytest.fixture(scope="module")
def server_without_database():
    """The app served over HTTP by uvicorn (in a thread of this process, so that the pool's
    connect timeout can be made short as in tests/web/test_database_busy.py) on a PostgreSQL
    URL where nothing listens: it starts, and every page that needs the database cannot
    have it."""
    import uvicorn

    app = create_app(Settings.from_env({}, log_level="critical", export_worker=False, rate_limit=0,
                                       database_url="postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"))
    app.state._repo_options = {"connect_timeout": 1.0}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_a_portal_page_without_its_database_is_the_503_page_on_a_phone(browser, server_without_database):
    page = browser_helpers.new_page(browser, "phone")
    response = page.goto(f"{server_without_database}/strategi")
    assert response.status == 503 and response.headers["retry-after"].isdigit()
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.get_by_role("heading", level=1).inner_text() == "Tjenesten er midlertidig utilgjengelig"
    assert page.locator("section[lang=en] h2").inner_text() == "The service is temporarily unavailable"
    assert response.headers["x-request-id"] in page.inner_text("main")
    # readable at 375 px: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    browser_helpers.assert_accessible(page, "503 page nb phone")
    browser_helpers.screenshot(page, "unavailable-phone")
    page.context.close()
