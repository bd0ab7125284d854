"""The board shows every open patient whatever the history behind them: a few thousand closed cases at the ward
(written in bulk, not through the UI), and the open ones all show, counted as the server counts them; the ended
ones come 50 at a time under "Avslutade"."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.e2e.cases import WARD, api_headers, insert_closed_cases, new_case, row
from tests.e2e.conftest import Stack, login

CLOSED = 3000


async def test_the_board_shows_every_open_patient_behind_thousands_of_closed_cases(page: Page, stack: Stack) -> None:
    opened = [await new_case(stack, f"Öppen Patient {i}", notice=i % 2 == 0) for i in range(4)]
    await insert_closed_cases(stack, CLOSED)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        open_total = (await client.get("/api/v1/cases", params={"unit_id": WARD, "open": "true", "limit": 1},
                                       headers=api_headers(stack, "ward.nurse"))).json()["total"]
        ended_total = (await client.get("/api/v1/cases", params={"unit_id": WARD, "open": "false", "limit": 1},
                                        headers=api_headers(stack, "ward.nurse"))).json()["total"]
    assert ended_total >= CLOSED

    await login(page, "ward.nurse", next="/tavla")
    for case in opened:
        await expect(row(page, case["id"])).to_be_visible(timeout=30_000)
    await expect(page.locator('[role="row"][data-case]')).to_have_count(open_total)
    await expect(page.get_by_text(f"{open_total} patienter", exact=False)).to_be_visible()

    await page.get_by_label("Visa").click()
    await page.get_by_role("option", name="Avslutade").click()
    await expect(page.locator('[role="row"][data-case]')).to_have_count(50, timeout=30_000)
    more = page.get_by_role("button", name=f"Visa 50 till av {ended_total - 50} avslutade")
    await expect(more).to_be_visible()
    await more.click()
    await expect(page.locator('[role="row"][data-case]')).to_have_count(100, timeout=30_000)
