"""The board's cell broadcast (ui/components/cellcast.py) in a real browser: a change reaches the open board as
one shared `sp_cells` message written into the tab's own cells, and a change made while the tab was offline is
shown once it reconnects, without a reload (by whichever path: the server may have seen the socket go and queued
an ordinary update, or broadcast to the dead socket and repaired on reconnect; tests/ui/test_cellcast.py covers
the repair itself)."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.cases import api_headers, new_case, row
from tests.e2e.conftest import Stack, login


async def casts(page: Page) -> int:
    count: int = await page.evaluate("() => window.spCellcastCount ?? -1")
    return count


async def test_a_change_reaches_the_board_through_the_cell_broadcast(page: Page, stack: Stack) -> None:
    case = await new_case(stack, "Folke Sändning", notice=True)
    await login(page, "ward.nurse", next="/tavla")
    nurse_row = row(page, case["id"])
    await expect(nurse_row).to_contain_text("Planering")
    await page.wait_for_function("() => window.spCellcastReady === true")  # the server knows the tab listens
    before = await casts(page)
    reloads: list[str] = []
    page.on("load", lambda _: reloads.append("reload"))

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.post(f"/api/v1/cases/{case['id']}/leave", json={"expected_version": case["version"]},
                                     headers=api_headers(stack, "ward.nurse"))
        assert response.status_code == 200, response.text

    await expect(nurse_row.locator('[data-cell="state"]')).to_contain_text("Permission")
    assert await casts(page) > before  # it came as a broadcast, not as NiceGUI's per-tab update
    assert reloads == []


async def test_a_broadcast_missed_while_offline_is_repaired_on_reconnect(page: Page, context: BrowserContext,
                                                                          stack: Stack) -> None:
    case = await new_case(stack, "Gunvor Glapp", notice=True)
    await login(page, "ward.nurse", next="/tavla")
    nurse_row = row(page, case["id"])
    await expect(nurse_row).to_contain_text("Planering")
    await page.wait_for_function("() => window.spCellcastReady === true")
    reloads: list[str] = []
    page.on("load", lambda _: reloads.append("reload"))

    await context.set_offline(True)
    await expect(page.locator("#popup")).to_have_attribute("aria-hidden", "false")  # NiceGUI: connection lost
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.post(f"/api/v1/cases/{case['id']}/leave", json={"expected_version": case["version"]},
                                     headers=api_headers(stack, "ward.nurse"))
        assert response.status_code == 200, response.text
    await context.set_offline(False)

    await expect(nurse_row.locator('[data-cell="state"]')).to_contain_text("Permission", timeout=30_000)
    await expect(page.locator("#popup")).to_have_attribute("aria-hidden", "true")
    assert reloads == []  # the same page, resumed: its cells were repaired, not rebuilt
