"""The portals' browser tests: Debian's chromium driven by Playwright (the Python package;
never `playwright install`: `executable_path` points at /usr/bin/chromium), and an axe-core
check that injects node_modules/axe-core/axe.min.js into the page.

    browser = launch(playwright)              # or the `browser` fixture (conftest.py)
    page = new_page(browser, "phone")         # 375x812, or "desktop" 1280x800
    login(page, live_server, fnr)             # the built-in ID-porten-style login
    assert_accessible(page, "overview nb desktop")
    screenshot(page, "overview-desktop")      # tests/portals/screenshots/ (gitignored)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EHELSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def unavailable() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not AXE.exists():
        return "node_modules/axe-core is missing (make install runs npm ci)"
    return None


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def new_page(browser: Any, viewport: str = "desktop") -> Any:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="nb-NO")
    context.set_default_timeout(10_000)
    return context.new_page()


def login(page: Any, base_url: str, fnr: str) -> None:
    """Log in as a citizen through the portal's login button and the ID-porten-style page."""
    page.goto(f"{base_url}/innbygger/")
    page.get_by_role("link", name="Logg inn").or_(page.get_by_role("link", name="Log in")).first.click()
    page.locator(f'input[name="pid"][value="{fnr}"]').check()
    page.locator('form[method="post"][action="/login/idporten"] button[type="submit"]').click()
    page.wait_for_url(f"{base_url}/innbygger/**")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.0/2.1 A and AA on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: our CSP (script-src 'self') blocks an injected tag
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    # resultTypes: only violations get their node details (axe's documented speed-up;
    # passes and incomplete are still computed, just not serialised back)
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
                           "resultTypes: ['violations']})", WCAG_TAGS)
    return result["violations"]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"][:5]:
            lines.append(f"    at {json.dumps(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page: Any, label: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core: {len(violations)} WCAG 2.1 A/AA violation(s) on {label}:\n{describe(violations)}"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shows(page: Any, text: str, timeout_ms: int = 15_000) -> bool:
    """True once `text` is on the page. Waits for it: after a click that submits a form, the
    page may still be navigating, and reading page.content() then races the navigation."""
    page.get_by_text(text).first.wait_for(state="attached", timeout=timeout_ms)
    return True
