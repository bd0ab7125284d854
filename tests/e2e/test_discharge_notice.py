"""The discharge notice as information transfer, in real browsers (issue 13): the ward nurse sends it with its
content through the dialog; the municipality's inbox and its open case view show the actual time and the content
by themselves, without a reload."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible, check_now
from tests.e2e.cases import new_case, row, second_page
from tests.e2e.conftest import Stack, login

HANDOVER = "Sårvård varannan dag. Dottern är informerad."


async def test_the_ward_sends_the_discharge_notice_and_the_municipality_sees_it_live(
        page: Page, browser: Browser, stack: Stack) -> None:
    case = await new_case(stack, "Greta Hemgång", notice=True)
    other, inbox = await second_page(browser, stack)
    try:
        await login(inbox, "needs.assessor", next="/inkorg")
        await expect(row(inbox, case["id"])).to_contain_text("Inskrivningsmeddelande")
        case_view = await other.new_page()  # the same assessor, the case open in another tab
        await case_view.goto(f"/arende/{case['id']}")
        await expect(case_view.get_by_role("heading", name="Greta Hemgång")).to_be_visible()
        reloads: list[str] = []
        inbox.on("load", lambda _: reloads.append("inbox"))
        case_view.on("load", lambda _: reloads.append("case"))

        await login(page, "ward.nurse", next=f"/arende/{case['id']}")
        await page.get_by_role("toolbar", name="Åtgärder").get_by_role(
            "button", name="Skicka utskrivningsmeddelande").click()
        dialog = page.get_by_role("dialog", name="Skicka utskrivningsmeddelande")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("Vart", exact=True).click()
        await page.get_by_role("option", name="Korttidsboende").click()
        await dialog.get_by_label("Vilken avdelning, enhet eller plats").fill("Korttidsboendet Linden")
        await dialog.get_by_label("Telefon").fill("08-123 456 78")
        await dialog.get_by_role("radio", name="Skickad via journalen").click()
        await dialog.get_by_label("Det mottagarna behöver veta").fill(HANDOVER)
        await check_now(page, "the discharge notice dialog")
        await dialog.get_by_role("button", name="Skicka utskrivningsmeddelande").click()
        await expect(dialog).to_be_hidden()

        # The municipality's inbox: when the patient left and where to, the content to unfold.
        inbox_row = row(inbox, case["id"])
        await expect(inbox_row).to_contain_text("Utskrivningsmeddelande")
        await expect(inbox_row).to_contain_text("Korttidsboende (Korttidsboendet Linden)")
        await expect(inbox_row).to_contain_text("Utskriven")
        await inbox_row.get_by_text("Utskrivningsmeddelandets innehåll").click()
        await expect(inbox_row.get_by_text(HANDOVER)).to_be_visible()
        await expect(inbox_row).to_contain_text("Skickad via journalen")
        await check_now(inbox, "/inkorg with a discharge notice")

        # Its open case view: the header's state and time, the notice's content, the timeline.
        await expect(case_view.get_by_role("region", name="Utskrivningsmeddelande")).to_contain_text(HANDOVER)
        await expect(case_view.get_by_role("region", name="Utskrivningsmeddelande")).to_contain_text(
            "08-123 456 78")
        await expect(case_view.get_by_role("list", name="Tidslinje")).to_contain_text(
            "Utskrivningsmeddelande skickat – utskriven")
        await expect(page.get_by_role("region", name="Utskrivningsmeddelande")).to_contain_text(HANDOVER)  # the ward's
        assert reloads == []
        await assert_accessible(case_view, "/arende with a discharge notice")
    finally:
        await other.close()
