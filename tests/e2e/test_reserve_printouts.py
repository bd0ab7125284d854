"""The reserve routine's printouts from the screen, in real Chromium: the board's "Reservlista" gives the unit's
open cases as a CSV and a PDF download, the case page's "Skriv ut ärendet" the case sheet (issue 16)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page

from tests.e2e.cases import new_case, second_page
from tests.e2e.conftest import Stack, login


async def download(page: Page, click: object, tmp: Path, name: str) -> bytes:
    async with page.expect_download() as info:
        await click  # type: ignore[misc]
    saved = tmp / name
    await (await info.value).save_as(saved)
    return saved.read_bytes()


async def test_the_board_downloads_the_reserve_list_and_the_case_page_its_sheet(
        browser: Browser, stack: Stack, tmp_path: Path) -> None:
    case = await new_case(stack, "Rut Pappersdag", notice=True)
    context, page = await second_page(browser, stack)
    try:
        await login(page, "ward.nurse", "/tavla")
        await page.get_by_role("button", name="Reservlista").click()
        content = await download(page, page.get_by_role("menuitem", name="Reservlista (CSV").click(), tmp_path,
                                 "lista.csv")
        text = content.decode("utf-8-sig")
        assert text.startswith("Patient;Personnummer;Status")
        assert f"Rut Pappersdag;{case['patient']['identity']};Planering" in text

        await page.get_by_role("button", name="Reservlista").click()
        pdf = await download(page, page.get_by_role("menuitem", name="Reservlista (PDF").click(), tmp_path,
                             "lista.pdf")
        assert pdf.startswith(b"%PDF")

        await page.goto(f"/arende/{case['id']}")
        sheet = await download(page, page.get_by_role("button", name="Skriv ut ärendet").click(), tmp_path,
                               "arende.pdf")
        assert sheet.startswith(b"%PDF")
    finally:
        await context.close()
