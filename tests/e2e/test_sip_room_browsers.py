"""The SIP meeting room in three real browsers at once: a ward nurse (Karolinska), a needs assessor (Solna stad)
and the named care contact (Aleris, Vårdcentral Rönnviken, which owns the plan) edit one plan together.

Every edit in one browser reaches the other two without a reload; edits of different fields saved at the same
time never conflict; two people editing the same field see the conflict in Swedish and keep what they typed; the
meeting room has no serious or critical axe-core violation (also with a form open); and when the owner closes the
plan, the other rooms turn read-only in place.

The plan is set up through the API (as the owner, with a token from the stack's development signing key) with the
three units taking part and the person's consent naming them. Every wait is on a condition (Playwright's `expect`
and `wait_for`, with timeouts), never a sleep.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from domain.identity import generate_test_personnummer
from server.demo.seed import stable_id
from tests.e2e.axe import assert_accessible
from tests.e2e.cases import api_headers
from tests.e2e.conftest import Stack, login

WARD = stable_id("unit", "ks-solna-ward-geriatrik-1")
MUNICIPALITY = stable_id("unit", "solna-stad-intake")
PRIMARY_CARE = stable_id("unit", "aleris-vc-ronnviken")
OWNER_USER = "care.contact"
PERSON = "Gunnel Samråd"
LIVE = 10_000  # ms: an edit reaches the other rooms well within this (measured: a few hundred ms)


async def new_plan(stack: Stack) -> dict[str, Any]:
    """A plan owned by Vårdcentral Rönnviken with the ward and Solna's intake unit, consent naming all three, and a
    need with a known id (`need-1`)."""
    identity = generate_test_personnummer(date(1941, 3, 1) + timedelta(days=int(time.time()) % 3000), 981)
    headers = api_headers(stack, OWNER_USER)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(f"/api/v1/sip-plans{path}", json=body, headers=headers)
            assert response.status_code in (200, 201), response.text
            result: dict[str, Any] = response.json()
            return result

        plan = await post("", {"owner_unit_id": PRIMARY_CARE, "unit_ids": [WARD, MUNICIPALITY], "person": {
            "identity": identity.formatted, "name": PERSON, "address": "Provgatan 7", "municipality_code": "0184",
            "listed_unit_id": PRIMARY_CARE}})
        plan = await post(f"/{plan['id']}/consent", {
            "expected_version": plan["version"], "given_by": "person", "form": "verbal",
            "scope_unit_ids": [PRIMARY_CARE, WARD, MUNICIPALITY],
            "given_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()})
        return await post(f"/{plan['id']}/items/needs", {"content": {"description": "Hjälp med läkemedel"},
                                                         "item_id": "need-1"})


async def read_plan(stack: Stack, plan_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.get(f"/api/v1/sip-plans/{plan_id}", headers=api_headers(stack, OWNER_USER))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def open_browser(browser: Browser, stack: Stack) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=stack.ui_url, locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    return context, await context.new_page()


def editor(page: Page, key: str) -> Locator:
    return page.locator(f'[data-editor="{key}"]')


def own_contribution(page: Page) -> Locator:
    return editor(page, "field-own_contribution").get_by_label("Egen insats", exact=True)


def need(page: Page) -> Locator:
    return editor(page, "item-needs-need-1").get_by_label("Behov", exact=True)


async def save(page: Page, key: str, name: str) -> None:
    await editor(page, key).get_by_role("button", name=name, exact=True).click()


async def test_three_participants_edit_one_plan_live(browser: Browser, stack: Stack) -> None:
    started = time.monotonic()
    plan = await new_plan(stack)
    room = f"/sip/{plan['id']}"
    contexts: list[BrowserContext] = []
    try:
        pages: dict[str, Page] = {}
        for username in ("ward.nurse", "needs.assessor", OWNER_USER):
            context, page = await open_browser(browser, stack)
            contexts.append(context)
            await login(page, username, next=room)
            await expect(page.get_by_role("heading", name=f"SIP – {PERSON}")).to_be_visible()
            pages[username] = page
        ward, municipality, primary = pages["ward.nurse"], pages["needs.assessor"], pages[OWNER_USER]
        reloads: list[str] = []

        def count_reloads(page: Page, who: str) -> None:
            page.on("load", lambda _: reloads.append(who))

        for username, page in pages.items():
            count_reloads(page, username)
        for page in pages.values():  # every room shows the other two people in it
            presence = page.get_by_text("I mötesrummet nu:")
            await expect(presence).to_be_visible(timeout=LIVE)
        await expect(ward.locator(".sp-presence")).to_have_count(2, timeout=LIVE)

        # 1. Every edit in one browser reaches the other two without a reload.
        await need(ward).fill("Hjälp med läkemedel morgon och kväll")
        await save(ward, "item-needs-need-1", "Spara behov")
        for page in (municipality, primary):
            await expect(need(page)).to_have_value("Hjälp med läkemedel morgon och kväll", timeout=LIVE)

        await own_contribution(municipality).fill("Handlar själv med stöd")
        await save(municipality, "field-own_contribution", "Spara egen insats")
        for page in (ward, primary):
            await expect(own_contribution(page)).to_have_value("Handlar själv med stöd", timeout=LIVE)

        await primary.get_by_text("Lägg till mål").click()
        adder = editor(primary, "new-goals")
        add = adder.get_by_role("button", name="Lägg till mål")
        # The form slides open: act once it is open and its button shown whole, not clipped mid-animation (a click
        # then could land on what lies under the clipped button and never reach the save).
        await expect(primary.get_by_role("button", name="Lägg till mål", expanded=True)).to_be_visible()
        await add.scroll_into_view_if_needed()
        await expect(add).to_be_in_viewport(ratio=1)
        await adder.get_by_label("Vad är viktigt för dig", exact=True).fill("Bo kvar hemma")
        await add.click()
        # The save ran: the form is emptied and the goal shows in this room too.
        await expect(adder.get_by_label("Vad är viktigt för dig", exact=True)).to_have_value("", timeout=LIVE)
        for page in (primary, ward, municipality):
            goal = page.locator('[data-editor^="item-goals-"]').get_by_label("Vad är viktigt för dig", exact=True)
            await expect(goal).to_have_value("Bo kvar hemma", timeout=LIVE)

        # Presence per section: the ward sees who edits Behov.
        await need(municipality).focus()
        await expect(ward.get_by_text("✎ Karin Berg (Biståndsenheten Solna) redigerar Behov")).to_be_visible(
            timeout=LIVE)
        await need(municipality).blur()
        await expect(ward.get_by_text("redigerar Behov")).to_be_hidden(timeout=LIVE)

        # 2. Different fields at the same time never conflict: both saves start before either answer arrives.
        before = await read_plan(stack, plan["id"])
        await need(ward).fill("Hjälp med läkemedel och insulin")
        await own_contribution(municipality).fill("Handlar och lagar mat själv")
        await asyncio.gather(save(ward, "item-needs-need-1", "Spara behov"),
                             save(municipality, "field-own_contribution", "Spara egen insats"))
        for page, key in ((ward, "item-needs-need-1"), (municipality, "field-own_contribution")):
            # "Sparat" only after a 200: a conflict (409) shows its note instead.
            await expect(editor(page, key).get_by_role("status").filter(has_text="Sparat")).to_be_visible(
                timeout=LIVE)
        for page in pages.values():
            await expect(own_contribution(page)).to_have_value("Handlar och lagar mat själv", timeout=LIVE)
            await expect(need(page)).to_have_value("Hjälp med läkemedel och insulin", timeout=LIVE)
        for page in pages.values():  # after both edits arrived everywhere
            await expect(page.get_by_text("Sparat av någon annan")).to_have_count(0)
            await expect(page.get_by_text("Någon annan har ändrat detta")).to_have_count(0)
        # Each written once, neither refused.
        after = await read_plan(stack, plan["id"])

        def stored(shown: dict[str, Any]) -> tuple[Any, ...]:
            item = next(i for i in shown["contents"]["needs"] if i["id"] == "need-1")
            own = shown["contents"]["own_contribution"]
            return item["content"]["description"], item["revision"], own["value"], own["revision"]

        need_was, own_was = stored(before)[1], stored(before)[3]
        assert stored(after) == ("Hjälp med läkemedel och insulin", need_was + 1, "Handlar och lagar mat själv",
                                 own_was + 1)

        # 3. The same field in two browsers: the conflict shows, nothing typed is lost.
        await own_contribution(ward).fill("Tar promenad varje dag")
        await own_contribution(primary).fill("Går till affären själv")
        await save(primary, "field-own_contribution", "Spara egen insats")
        await expect(own_contribution(municipality)).to_have_value("Går till affären själv", timeout=LIVE)
        theirs = editor(ward, "field-own_contribution").get_by_text("Sparat av någon annan: Egen insats: "
                                                                    "Går till affären själv")
        await expect(theirs).to_be_visible(timeout=LIVE)
        await expect(ward.get_by_text("Någon annan har ändrat detta medan du skriver. Din text finns kvar.")
                     ).to_be_visible()
        await expect(own_contribution(ward)).to_have_value("Tar promenad varje dag")
        await save(ward, "field-own_contribution", "Spara egen insats")  # from the old revision: 409
        await expect(ward.get_by_text("Någon annan har ändrat detta. Här är det som gäller nu; din text finns kvar"
                                      )).to_be_visible()
        await expect(own_contribution(ward)).to_have_value("Tar promenad varje dag")
        await ward.locator(".q-notification").get_by_role("button", name="Stäng").click()  # the toast (contrast)
        await assert_accessible(ward, "the SIP meeting room with a conflict shown")
        await save(ward, "field-own_contribution", "Spara egen insats")  # again: overwrites knowingly
        await expect(theirs).to_be_hidden()
        for page in (municipality, primary):
            await expect(own_contribution(page)).to_have_value("Tar promenad varje dag", timeout=LIVE)

        # 4. A meeting called in one room shows in the others; the form passes axe-core too.
        await municipality.get_by_role("button", name="Kalla till möte").click()
        dialog = municipality.get_by_role("dialog", name="Kalla till SIP-möte")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("Plats (adress eller rum)").fill("Vårdcentralen Rönnviken, rum 3")
        await assert_accessible(municipality, "the SIP meeting room with the meeting form open")
        await dialog.get_by_role("button", name="Skicka kallelse").click()
        await expect(dialog).to_be_hidden()
        for page in (ward, primary):
            await expect(page.get_by_text("Plats: Vårdcentralen Rönnviken, rum 3")).to_be_visible(timeout=LIVE)

        # 5. The owner closes the plan: the other rooms turn read-only in place (their inputs follow the state).
        await primary.get_by_role("button", name="Avsluta planen").click()
        closing = primary.get_by_role("dialog", name="Avsluta planen")
        await closing.get_by_role("button", name="Avsluta planen").click()
        for page in (ward, municipality):
            await expect(page.get_by_text("Planen är avslutad och kan inte ändras.")).to_be_visible(timeout=LIVE)
            await expect(own_contribution(page)).to_be_disabled()
            await expect(need(page)).to_be_disabled()
            await expect(page.get_by_role("button", name="Kalla till möte")).to_be_disabled()
        assert reloads == []  # nobody reloaded
    finally:
        for context in contexts:
            await context.close()
    print(f"three-browser SIP room test: {time.monotonic() - started:.1f} s")  # shown with -s
