"""Administration and log review in a real browser: axe-core finds no serious or critical accessibility
violation on /admin and /loggkontroll (with a search's results and a review's sample shown), and the pages
are reachable from the navigation of users whose roles allow them."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import Stack, login, logout


async def test_admin_and_log_review_pages_are_accessible(page: Page, stack: Stack) -> None:
    await login(page, "hospital.admin", next="/tavla")
    nav = page.get_by_role("navigation", name="Huvudmeny")
    await nav.get_by_role("link", name="Administration").click()
    await expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    await expect(page.get_by_role("table", name="Användare i organisationen")).to_be_visible()
    await assert_accessible(page, "/admin")

    await page.get_by_role("button", name="Ny användare").click()
    await expect(page.get_by_role("dialog", name="Ny användare")).to_be_visible()
    await expect(page.get_by_label("Namn", exact=True)).to_be_focused()
    await assert_accessible(page, "/admin, the new-user dialog")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="Ny användare")).to_be_hidden()
    await logout(page)

    await login(page, "auditor", next="/loggkontroll")
    await expect(page.get_by_role("heading", name="Loggkontroll", level=1)).to_be_visible()
    await page.get_by_role("button", name="Sök").click()
    await expect(page.get_by_role("status").filter(has_text="loggrader")).to_be_visible()
    await page.get_by_role("button", name="Starta granskning").click()
    await expect(page.get_by_role("heading", name="Granskning av")).to_be_visible()
    await assert_accessible(page, "/loggkontroll with results and a review")


async def test_new_pages_and_the_confirmation_are_accessible(page: Page, stack: Stack) -> None:
    """axe-core on the statistics landing page, the settings page and /admin with a confirmation open."""
    await login(page, "statistics", next="/")
    await expect(page.get_by_role("heading", name="Det här är ditt")).to_be_visible()
    await assert_accessible(page, "/statistik")
    await page.goto("/installningar")
    await expect(page.get_by_role("heading", name="Inställningar", exact=True)).to_be_visible()
    await assert_accessible(page, "/installningar")
    await logout(page)

    await login(page, "hospital.admin", next="/admin")
    await expect(page.get_by_role("heading", name="Reservnummer till riktig identitet")).to_be_visible()
    await page.get_by_role("button", name="Ta bort Användare vid Avd 12 Geriatrik för Sara Sjöberg").click()
    dialog = page.get_by_role("dialog", name="Ta bort behörighet")
    await expect(dialog).to_be_visible()
    await assert_accessible(page, "/admin, confirming a removal")
    await dialog.get_by_role("button", name="Avbryt").click()
    await expect(dialog).to_be_hidden()
