"""SIP from the UI only, in real browsers: inside a discharge (the named care contact marks on the case that a SIP
applies with the person's consent, sees the SIP invitation's deadline, starts the plan from the case; case and plan
link to each other and both show the deadline) and outside one (the municipality's "Ny SIP" on `/sip`).

Screenshots (1366 and 768 px) go to `SAMPLAN_SCREENSHOT_DIR` when it is set (for a person to look at)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.e2e.axe import check_now
from tests.e2e.cases import api_headers, new_case, typo_caught_then_identity
from tests.e2e.conftest import Stack, login
from ui import fmt


async def _api(stack: Stack, username: str, method: str, path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.request(method, f"/api/v1{path}", headers=api_headers(stack, username),
                                        json=body or None)
        assert response.status_code < 300, response.text
        result: dict[str, Any] = response.json()
        return result


async def _shots(page: Page, name: str) -> None:
    shots = os.environ.get("SAMPLAN_SCREENSHOT_DIR")
    if shots:
        for width in (1366, 768):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=str(Path(shots) / f"{name}-{width}.png"), full_page=True)
        await page.set_viewport_size({"width": 1366, "height": 900})


async def test_the_named_care_contact_starts_a_sip_from_the_case(page: Page, stack: Stack) -> None:
    case = await new_case(stack, "Sixten Siptestsson", notice=True)
    case = await _api(stack, "ward.nurse", "POST", f"/cases/{case['id']}/ready-for-discharge",
                      expected_version=case["version"])
    await login(page, "care.contact", next=f"/arende/{case['id']}")
    section = page.get_by_role("region", name="SIP")
    await expect(section).to_contain_text("Nej (inte bedömt eller inte aktuellt)")
    await expect(page.locator("main, [role=main]")).to_have_count(1)  # one main landmark on the case page

    await section.get_by_role("button", name="Bedöm SIP och samtycke").click()
    dialog = page.get_by_role("dialog", name="Bedöm SIP och samtycke")
    await dialog.get_by_role("radio", name="Ja, personen behöver insatser från både region och kommun").click()
    await dialog.get_by_role("radio", name="Ja, personen samtycker").click()
    await check_now(page, "/arende, Bedöm SIP och samtycke")
    await dialog.get_by_role("button", name="Spara").click()
    await expect(dialog).to_be_hidden()

    # The deadline the API computed (ready + 3 days) shows on the case.
    stored = await _api(stack, "care.contact", "GET", f"/cases/{case['id']}")
    assert (stored["sip_applies"], stored["sip_consent"]) == (True, True)
    [due] = [d["due_at"] for d in stored["deadlines"] if d["kind"] == "sip_invitation"]
    await expect(section).to_contain_text("Samtycke till SIP")
    await expect(section).to_contain_text(f"Kallelse till SIP senast{fmt.date_time(due)}")
    await _shots(page, "case-sip-section")

    await section.get_by_role("button", name="Starta SIP").click()
    await page.wait_for_url(lambda url: "/sip/" in url)
    plan_id = page.url.rsplit("/", 1)[-1]
    await expect(page.get_by_role("heading", name="SIP – Sixten Siptestsson")).to_be_visible()
    linked = page.get_by_role("region", name="Utskrivningsärendet")
    await expect(linked).to_contain_text(f"Kallelse till SIP senast{fmt.date_time(due)}")
    await check_now(page, "/sip/{id} with its case")
    await _shots(page, "sip-room-case")

    # Back to the case: it links to the plan and no longer offers to start one.
    await linked.get_by_role("link", name="Till ärendet").click()
    await page.wait_for_url(lambda url: f"/arende/{case['id']}" in url)
    await expect(section.get_by_role("link", name="Öppna SIP")).to_have_attribute("href", f"/sip/{plan_id}")
    await expect(section.get_by_role("button", name="Starta SIP")).to_have_count(0)

    # The person refuses: no invitation is due, in the room too (live, through the case's event).
    await page.goto(f"/sip/{plan_id}")
    await expect(linked).to_contain_text("Kallelse till SIP senast")
    stored = await _api(stack, "care.contact", "GET", f"/cases/{case['id']}")
    await _api(stack, "ward.nurse", "POST", f"/cases/{case['id']}/sip-applicability",
               expected_version=stored["version"], applies=True, consent=False)
    await expect(linked).to_contain_text("Behövs inte: personen avböjer SIP")


async def test_the_municipality_starts_a_sip_outside_a_discharge(page: Page, stack: Stack) -> None:
    await login(page, "needs.assessor", next="/sip")
    await page.get_by_role("button", name="Ny SIP").click()
    dialog = page.get_by_role("dialog", name="Ny SIP")
    await expect(dialog).to_be_visible()
    await typo_caught_then_identity(dialog)
    await dialog.get_by_label("Namn").fill("Siri Utanförsson")
    await dialog.get_by_label("Kommunkod").fill("0184")
    await check_now(page, "/sip, Ny SIP")
    await _shots(page, "sip-new-dialog")
    await dialog.get_by_role("button", name="Starta SIP").click()

    await page.wait_for_url(lambda url: "/sip/" in url)
    plan_id = page.url.rsplit("/", 1)[-1]
    await expect(page.get_by_role("heading", name="SIP – Siri Utanförsson")).to_be_visible()
    await expect(page.get_by_role("region", name="Utskrivningsärendet")).to_have_count(0)  # no case
    plan = await _api(stack, "needs.assessor", "GET", f"/sip-plans/{plan_id}")
    assert (plan["case_id"], plan["state"]) == (None, "draft")

    await page.goto("/sip")
    await expect(page.locator(f'[data-plan="{plan_id}"]')).to_contain_text("Siri Utanförsson")
