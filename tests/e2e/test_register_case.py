"""The first step of the process in a real browser: the ward nurse registers an admission through the UI only
(Ny inskrivning on her board), and the new case appears on her board.

Screenshots of the board with the dialog open (1366 and 768 px wide) go to `SAMPLAN_SCREENSHOT_DIR` when it is
set (for a person to look at; never committed)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from server.demo.seed import stable_id
from tests.e2e.axe import check_now
from tests.e2e.cases import WARD, api_headers, invented_identity
from tests.e2e.conftest import Stack, login


async def test_the_ward_nurse_registers_an_admission_through_the_ui(page: Page, stack: Stack) -> None:
    await login(page, "ward.nurse", next="/tavla")
    await expect(page.get_by_role("heading", name="Utskrivningstavla – Avd 12 Geriatrik")).to_be_visible()
    await page.get_by_role("button", name="Ny inskrivning").click()
    dialog = page.get_by_role("dialog", name="Ny inskrivning")
    await expect(dialog).to_be_visible()

    # A wrong check digit is caught as it is typed.
    identity = invented_identity()
    field = dialog.get_by_label("Personnummer eller samordningsnummer")
    await field.fill(identity[:-1] + str((int(identity[-1]) + 1) % 10))
    await field.blur()
    await expect(dialog.get_by_text("fel format, datum eller kontrollsiffra")).to_be_visible()
    shots = os.environ.get("SAMPLAN_SCREENSHOT_DIR")
    if shots:
        await page.screenshot(path=str(Path(shots) / "register-dialog-error.png"))
    await field.fill(identity)
    await dialog.get_by_label("Namn").fill("Greta Webbinskriven")
    await dialog.get_by_label("Adress").fill("Inskrivningsvägen 5")
    await dialog.get_by_label("Kommunkod").fill("0184")
    await expect(dialog.get_by_text("fel format, datum eller kontrollsiffra")).to_be_hidden()

    if shots:
        for width in (1366, 768):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=str(Path(shots) / f"register-dialog-{width}.png"))

    await check_now(page, "/tavla, Ny inskrivning")  # the open dialog: no serious or critical violation
    await dialog.get_by_role("button", name="Skriv in patienten").click()
    await expect(dialog.get_by_text("Patienten är inskriven.")).to_be_visible()
    if shots:
        await page.screenshot(path=str(Path(shots) / "register-dialog-done.png"))
    await dialog.get_by_role("button", name="Stäng").click()
    await expect(dialog).to_be_hidden()

    new_row = page.get_by_role("row").filter(has_text="Greta Webbinskriven")
    await expect(new_row).to_have_count(1)
    await expect(new_row).to_contain_text("Inskriven (utkast)")


async def test_the_dialog_names_the_receivers_and_takes_others_with_a_reason(page: Page, stack: Stack) -> None:
    """The routing preview names the units the server's rule picks (no copy of the rule in the UI); the ward may
    choose others, with a reason the case keeps."""
    headers = api_headers(stack, "ward.nurse")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        routed = (await client.get("/api/v1/routing", params={"municipality_code": "0184"}, headers=headers)).json()
    [intake] = routed["receivers"]

    await login(page, "ward.nurse", next="/tavla")
    await page.get_by_role("button", name="Ny inskrivning").click()
    dialog = page.get_by_role("dialog", name="Ny inskrivning")
    await dialog.get_by_label("Personnummer eller samordningsnummer").fill(invented_identity())
    await dialog.get_by_label("Namn").fill("Rut Routningsdotter")
    preview = dialog.get_by_text("Ange kommunkod (och vårdcentral)")
    await expect(preview).to_be_visible()
    await dialog.get_by_label("Kommunkod").fill("9999")
    await expect(dialog.get_by_text("Ingen enhet i den kommunen tar emot")).to_be_visible()
    await dialog.get_by_label("Kommunkod").fill("0184")
    await expect(dialog.get_by_text(f"Går till Kommun: {intake['unit_name']}")).to_be_visible()

    # By hand: the routed unit is chosen to start with; a reason is required.
    await dialog.get_by_role("checkbox", name="Välj andra mottagare").click()
    receivers = dialog.get_by_label("Mottagande enheter")
    await expect(dialog.get_by_text(intake["unit_name"], exact=False).last).to_be_visible()
    await receivers.click()
    await receivers.fill("Rönnviken")
    await page.get_by_role("option", name="Vårdcentral Rönnviken (Primärvård)").click()
    await page.keyboard.press("Escape")
    await check_now(page, "/tavla, Ny inskrivning with receivers chosen by hand")
    await dialog.get_by_role("button", name="Skriv in patienten").click()
    await expect(dialog.get_by_text("Ange skälet.")).to_be_visible()
    await dialog.get_by_label("Skäl till att välja andra mottagare").fill("Vistas hos dottern i Solna i vinter")
    await dialog.get_by_role("button", name="Skriv in patienten").click()
    await expect(dialog.get_by_text("Patienten är inskriven.")).to_be_visible()
    await expect(dialog.get_by_text("Inskrivningsmeddelandet går till:")).to_contain_text("Vårdcentral Rönnviken")

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        page_of = (await client.get("/api/v1/cases", params={"unit_id": WARD, "state": "admitted", "limit": 500},
                                    headers=headers)).json()
        [case] = [c for c in page_of["items"] if c["patient"]["name"] == "Rut Routningsdotter"]
        case = (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()
    assert {p["unit_id"] for p in case["participants"] if p["part"] != "inpatient_unit"} == {
        intake["unit_id"], stable_id("unit", "aleris-vc-ronnviken")}
    assert case["timeline"][0]["detail"] == "Vistas hos dottern i Solna i vinter"
