"""The live UI in real browsers: two users in two browsers see each other's changes without reloading;
a conflicting edit keeps what the second user typed; a dropped connection recovers; axe-core finds no serious
or critical accessibility violation on the board, the inbox and the case view.

Each test registers its own case through the API (as the ward nurse, with a token from the stack's development
signing key), so tests do not depend on the demo data or on each other.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.axe import check_now
from tests.e2e.cases import api_headers, new_case, row, second_page
from tests.e2e.conftest import Stack, login, logout


async def test_nurse_and_planner_see_each_other_without_reload(page: Page, browser: Browser, stack: Stack) -> None:
    case = await new_case(stack, "Astrid Levande")
    await login(page, "ward.nurse", next="/tavla")
    other, planner = await second_page(browser, stack)
    try:
        await login(planner, "needs.assessor", next="/inkorg")
        await expect(planner.get_by_role("heading", name="Inkorg – Biståndsenheten Solna")).to_be_visible()
        reloads: list[str] = []
        planner.on("load", lambda _: reloads.append("planner"))
        page.on("load", lambda _: reloads.append("nurse"))

        # The nurse sends the admission notice from her board.
        nurse_row = row(page, case["id"])
        await expect(nurse_row).to_contain_text("Inskriven (utkast)")
        await nurse_row.get_by_role("button", name="Åtgärder för Astrid Levande").click()
        await page.get_by_role("menuitem", name="Skicka inskrivningsmeddelande").click()
        await expect(nurse_row).to_contain_text("Planering")

        # The planner's inbox shows it by itself, with a toast and the badge.
        planner_row = row(planner, case["id"])
        await expect(planner_row).to_contain_text("Inskrivningsmeddelande")
        await expect(planner.get_by_text("Nytt inskrivningsmeddelande – se inkorgen")).to_be_visible()
        await expect(planner.locator(".q-badge")).to_be_visible()

        # The planner acknowledges with one click; the nurse's board shows it by itself.
        await planner_row.get_by_role("button", name="Kvittera meddelanden för Astrid Levande").click()
        await expect(planner_row).to_contain_text("Allt kvitterat")
        await expect(nurse_row).to_contain_text("Biståndsenheten Solna: kvitterat")
        assert reloads == []  # nobody reloaded
    finally:
        await other.close()


async def test_a_row_that_appeared_live_acts_as_the_browser_showing_it(page: Page, browser: Browser,
                                                                      stack: Stack) -> None:
    """Two browsers signed in as the same user share one live stream, started by the first page. A row that
    appears live in the second browser must act with the second browser's session, also after the first signed
    out (it used to run with the first browser's session, and so did nothing once that one signed out)."""
    await login(page, "ward.nurse", next="/tavla")  # the first browser starts the user's stream
    await expect(page.get_by_role("heading", name="Utskrivningstavla – Avd 12 Geriatrik")).to_be_visible()
    other, second = await second_page(browser, stack)
    try:
        await login(second, "ward.nurse", next="/tavla")
        await expect(second.get_by_role("heading", name="Utskrivningstavla – Avd 12 Geriatrik")).to_be_visible()
        case = await new_case(stack, "Frida Delad")  # after both boards are built: the row comes live
        second_row = row(second, case["id"])
        await expect(second_row).to_contain_text("Inskriven (utkast)")
        await expect(row(page, case["id"])).to_contain_text("Inskriven (utkast)")
        await logout(page)

        await second_row.get_by_role("button", name="Åtgärder för Frida Delad").click()
        await second.get_by_role("menuitem", name="Skicka inskrivningsmeddelande").click()
        await expect(second_row).to_contain_text("Planering")
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
            response = await client.get(f"/api/v1/cases/{case['id']}", headers=api_headers(stack, "ward.nurse"))
        assert response.json()["state"] == "planning"
    finally:
        await other.close()


async def test_conflicting_edit_in_two_browsers_keeps_the_typed_text(page: Page, browser: Browser,
                                                                     stack: Stack) -> None:
    case = await new_case(stack, "Bertil Krock", notice=True)
    other, colleague = await second_page(browser, stack)
    try:
        await login(page, "needs.assessor", next=f"/arende/{case['id']}")
        await login(colleague, "needs.assessor", next=f"/arende/{case['id']}")
        mine = page.get_by_label("Nuvarande insatser")
        theirs = colleague.get_by_label("Nuvarande insatser")
        await mine.fill("Hemtjänst morgon och kväll")
        await theirs.fill("Trygghetslarm")
        await colleague.get_by_role("button", name="Spara planeringsunderlag").click()
        await expect(colleague.get_by_role("status").filter(has_text="Sparat")).to_be_visible()

        await page.get_by_role("button", name="Spara planeringsunderlag").click()
        await expect(page.get_by_text("Någon annan har ändrat detta medan du skrev")).to_be_visible()
        await expect(page.get_by_text("Sparat av någon annan: Trygghetslarm")).to_be_visible()
        await expect(mine).to_have_value("Hemtjänst morgon och kväll")
    finally:
        await other.close()


async def test_dropped_connection_recovers_and_shows_what_changed(page: Page, context: BrowserContext,
                                                                 stack: Stack) -> None:
    case = await new_case(stack, "Cecilia Nätfel")
    await login(page, "ward.nurse", next="/tavla")
    nurse_row = row(page, case["id"])
    await expect(nurse_row).to_contain_text("Inskriven (utkast)")

    await context.set_offline(True)
    await expect(page.locator("#popup")).to_have_attribute("aria-hidden", "false")  # NiceGUI: connection lost
    headers = api_headers(stack, "ward.nurse")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                                     json={"expected_version": case["version"]}, headers=headers)
        assert response.status_code == 200, response.text
    await context.set_offline(False)
    # Back online the page resumes (or rebuilds from the API) and shows the change made meanwhile.
    await expect(row(page, case["id"])).to_contain_text("Planering", timeout=30_000)
    await expect(page.locator("#popup")).to_have_attribute("aria-hidden", "true")


@pytest.mark.parametrize("who", ["ward.nurse", "needs.assessor"])
async def test_no_serious_accessibility_violations(page: Page, stack: Stack, who: str) -> None:
    case = await new_case(stack, "Dagny Tillgänglig", notice=True)
    start = "/tavla" if who == "ward.nurse" else "/inkorg"
    await login(page, who, next=start)
    await expect(row(page, case["id"])).to_be_visible()
    await check_now(page, start)
    await page.goto(f"/arende/{case['id']}")
    await expect(page.get_by_role("heading", name="Dagny Tillgänglig")).to_be_visible()
    await check_now(page, "/arende")


async def test_keyboard_reaches_the_board_actions(page: Page, stack: Stack) -> None:
    case = await new_case(stack, "Einar Tangent")
    await login(page, "ward.nurse", next="/tavla")
    await expect(row(page, case["id"])).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Hoppa till innehållet")).to_be_focused()
    button = row(page, case["id"]).get_by_role("button", name="Åtgärder för Einar Tangent")
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("menuitem", name="Skicka inskrivningsmeddelande")).to_be_visible()
