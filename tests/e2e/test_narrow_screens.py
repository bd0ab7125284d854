"""The board and the inbox on a tablet (768 px wide), in real Chromium: no sideways scrolling, every row's actions
inside the screen, and no serious accessibility violation (issue 13: "Works at 768 px and 1 366 px").

At 1 366 px they are tables; below 1 000 px each row becomes a card of two (board) or three (inbox) columns and the
header row is only read aloud (`.sp-head`, ui/frame.py).
"""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.cases import new_case, row, second_page
from tests.e2e.conftest import Stack, login

WIDTHS = (768, 1366)


async def assert_fits(page: Page, width: int, action: str, case_id: str, where: str) -> None:
    """The page is no wider than the window, and the row's action button lies wholly inside it."""
    shown = row(page, case_id)
    await expect(shown).to_have_count(1)
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{where} at {width} px scrolls sideways: {scroll_width} px wide"
    button = shown.get_by_role("button", name=action).first
    await expect(button).to_be_visible()
    box = await button.bounding_box()
    assert box is not None
    assert box["x"] >= 0, f"{where} at {width} px: {action} at {box}"
    assert box["x"] + box["width"] <= width, f"{where} at {width} px: {action} at {box}"


async def test_board_and_inbox_reflow_at_tablet_width(browser: Browser, stack: Stack) -> None:
    case = await new_case(stack, "Tilda Surfplatta", notice=True)
    context, page = await second_page(browser, stack)
    try:
        await login(page, "ward.nurse", "/tavla")
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 900})
            await page.goto("/tavla")
            await assert_fits(page, width, "Åtgärder", case["id"], "/tavla")
            await assert_accessible(page, f"/tavla at {width} px")
    finally:
        await context.close()
    context, page = await second_page(browser, stack)
    try:
        await login(page, "needs.assessor", "/inkorg")
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 900})
            await page.goto("/inkorg")
            await assert_fits(page, width, "Kvittera", case["id"], "/inkorg")
            await assert_accessible(page, f"/inkorg at {width} px")
    finally:
        await context.close()
