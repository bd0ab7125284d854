"""A new notice is noticed outside the visible tab (ui/components/attention.py), in real Chromium against the shared
stack: the unread count in the tab's title rises when the ward sends a notice and falls when it is acknowledged;
with the user's choice made on the settings page and the browser's permission granted, a desktop notification
(the Notification API, observed through a recording stand-in injected before the page loads) is shown while the
tab is hidden, never while it is visible, and says nothing of the patient.

Headless Chromium reports every tab as visible, so the test page's `document.visibilityState` is switched by the
injected script (the same property and event a real background tab gives).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from tests.e2e.cases import api_headers, new_case, row, second_page
from tests.e2e.conftest import Stack, login

RECORDER = """
(() => {
  window.__spNotices = [];
  const Real = window.Notification;
  class Recording {
    constructor(title, options) { window.__spNotices.push({title, ...(options || {})}); }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Recording;
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => hidden ? 'hidden' : 'visible'});
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
  window.__spHide = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
})();
"""
TITLE = re.compile(r"^(?:\((\d+)\) )?Inkorg – Samplan$")


async def command(stack: Stack, case: dict[str, Any], path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.post(f"/api/v1/cases/{case['id']}/{path}", headers=api_headers(stack, "ward.nurse"),
                                     json={"expected_version": case["version"], **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def unread_in_title(page: Page) -> int:
    match = TITLE.match(await page.title())
    assert match is not None, await page.title()
    return int(match.group(1) or 0)


async def test_title_counts_notices_and_a_hidden_tab_gets_a_desktop_notification(browser: Browser,
                                                                                 stack: Stack) -> None:
    name = "Berit Bakgrund"
    case = await new_case(stack, name)
    context, assessor = await second_page(browser, stack)
    try:
        await context.grant_permissions(["notifications"], origin=stack.ui_url)
        await context.add_init_script(RECORDER)
        await login(assessor, "needs.assessor", next="/installningar")
        # The user's choice, on the settings page: the browser already allows notifications.
        await expect(assessor.get_by_role("status").filter(has_text="tillåter skrivbordsnotiser")).to_be_visible()
        desktop = assessor.get_by_role("switch", name="Visa en skrivbordsnotis när Samplan ligger i bakgrunden")
        await expect(desktop).to_be_enabled()
        await desktop.click()
        await expect(assessor.get_by_text("Inställningen är sparad")).to_be_visible()
        stored = await assessor.evaluate("Object.entries(localStorage).filter(([k]) => k.startsWith("
                                         "'samplan.attention.') && k !== 'samplan.attention.seen')")
        assert [value for _, value in stored] == ['{"sound":false,"desktop":true}']

        await assessor.goto("/inkorg")
        await expect(assessor.get_by_role("heading", name=re.compile("^Inkorg"))).to_be_visible()
        before = await unread_in_title(assessor)

        # In the background, the ward's admission notice arrives: count in the title, a desktop notification.
        await assessor.evaluate("window.__spHide(true)")
        case = await command(stack, case, "admission-notice")
        await expect(assessor).to_have_title(f"({before + 1}) Inkorg – Samplan")
        await assessor.wait_for_function("window.__spNotices.length === 1")
        [shown] = await assessor.evaluate("window.__spNotices")
        assert shown["title"] == "Samplan"
        assert shown["body"] == "Nytt inskrivningsmeddelande från Avd 12 Geriatrik"
        assert name not in str(shown)
        assert case["patient"]["identity"][:8] not in str(shown)  # nothing of the personnummer either

        # In front, the next notice shows as a toast only.
        await assessor.evaluate("window.__spHide(false)")
        soon = (datetime.now(UTC) + timedelta(days=5)).isoformat()
        case = await command(stack, case, "estimated-discharge", estimated_discharge_at=soon)
        await expect(assessor).to_have_title(f"({before + 2}) Inkorg – Samplan")
        await expect(assessor.get_by_text("Ändrad beräknad utskrivning – se inkorgen")).to_be_visible()
        assert await assessor.evaluate("window.__spNotices.length") == 1

        # Acknowledged: the count falls back.
        await row(assessor, case["id"]).get_by_role("button", name=f"Kvittera meddelanden för {name}").click()
        await expect(assessor).to_have_title(re.compile(rf"^(\({before}\) )?Inkorg – Samplan$"))
        assert await unread_in_title(assessor) == before
    finally:
        await context.close()


async def test_the_permission_is_asked_on_the_users_click(browser: Browser, stack: Stack) -> None:
    """Without a decision yet, the desktop switch waits for the permission; "Tillåt skrivbordsnotiser" asks the
    browser (here: refused), and the page says how to change it."""
    context, page = await second_page(browser, stack)
    try:
        await context.add_init_script("Notification.requestPermission = async () => 'denied';"
                                      "Object.defineProperty(Notification, 'permission', {get: () => 'default'});")
        await login(page, "needs.assessor", next="/installningar")
        await expect(page.get_by_role("status").filter(has_text="inte frågat dig")).to_be_visible()
        desktop = page.get_by_role("switch", name="Visa en skrivbordsnotis när Samplan ligger i bakgrunden")
        await expect(desktop).to_be_disabled()
        await page.get_by_role("button", name="Tillåt skrivbordsnotiser").click()
        await expect(page.get_by_role("status").filter(has_text="nekat skrivbordsnotiser")).to_be_visible()
        await expect(desktop).to_be_disabled()
        await expect(page.get_by_role("button", name="Tillåt skrivbordsnotiser")).to_be_hidden()
    finally:
        await context.close()


async def test_menus_follow_the_arrow_keys_and_lead_to_the_settings(page: Page) -> None:
    """The user menu (role="menu") moves with the arrow keys, Home and End, skipping its disabled first item; the
    settings page is reached from it by keyboard alone."""
    await login(page, "needs.assessor", next="/inkorg")
    await page.get_by_role("button", name="Karin Berg").focus()
    await page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Användarmeny")
    await expect(menu).to_be_visible()
    settings, logout = menu.get_by_role("menuitem", name="Inställningar"), menu.get_by_role("menuitem", name="Logga ut")
    await page.keyboard.press("ArrowDown")
    await expect(settings).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(logout).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(settings).to_be_focused()  # wraps, past the disabled "Inloggad som"
    await page.keyboard.press("End")
    await expect(logout).to_be_focused()
    await page.keyboard.press("ArrowUp")
    await expect(settings).to_be_focused()
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: url.endswith("/installningar"))
    await expect(page.get_by_role("heading", name="Inställningar", exact=True)).to_be_visible()
    assert await page.locator("main").count() == 1  # one main landmark
