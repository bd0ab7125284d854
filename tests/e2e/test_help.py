"""Help where work happens, in a real browser: the header's "Hjälp" opens the page's own text and leads to the help
for the user's role; both pass axe-core. Screenshots (1366 and 768 px) go to `SAMPLAN_SCREENSHOT_DIR` when set."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.axe import check_now
from tests.e2e.conftest import Stack, login


async def test_help_from_the_header_to_the_role(page: Page, stack: Stack) -> None:
    shots = os.environ.get("SAMPLAN_SCREENSHOT_DIR")
    await login(page, "ward.nurse", next="/tavla")
    await page.get_by_role("button", name="Hjälp").click()
    dialog = page.get_by_role("dialog", name="Hjälp för sidan")
    await expect(dialog).to_contain_text("Utskrivningstavlan visar avdelningens pågående ärenden")
    await check_now(page, "/tavla, Hjälp för sidan")
    if shots:
        await page.screenshot(path=str(Path(shots) / "help-dialog-1366.png"))
    await dialog.get_by_role("link", name="Rutiner och tidsfrister för din roll").click()
    await page.wait_for_url(lambda url: url.endswith("/hjalp/slutenvard"))
    await expect(page.get_by_role("heading", name="Hjälp för slutenvården (vårdavdelningen)")).to_be_visible()
    await expect(page.get_by_role("table")).to_contain_text("Kallelse till SIP")
    await check_now(page, "/hjalp/slutenvard")
    if shots:
        for width in (1366, 768):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=str(Path(shots) / f"help-role-{width}.png"), full_page=True)
