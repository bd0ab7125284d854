"""axe-core (vendored in tests/e2e/vendor) in a real browser: no serious or critical accessibility violation."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


async def check_now(page: Page, where: str) -> None:
    """Run axe-core on the page as it is and fail on any serious or critical violation."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                 ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3)"
                                 ".map(n => n.target.join(' '))}))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on {where}: {bad}"


async def assert_accessible(page: Page, where: str) -> None:
    """axe-core once the page is idle: Quasar's loading bar is a nameless progress bar while a request runs, and
    a toast fading in or out has too little contrast for a moment."""
    await expect(page.locator('.q-loading-bar[role="progressbar"]')).to_have_count(0)
    await expect(page.locator(".q-notification")).to_have_count(0, timeout=10_000)  # toasts fade (contrast)
    await check_now(page, where)
