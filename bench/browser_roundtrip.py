"""Browser round trip: an action in one real Chromium page until it is visible in another, N times.

Starts `samplan api` and `samplan ui` on embedded defaults (as bench/ui_fanout.py does), signs in `ward.nurse` in
one browser context and `ward.coordinator` in another (two people, both on the main ward's board), then N times:
the nurse toggles a patient's leave from the row's action menu, and the coordinator's board shows the changed
state cell. Times are taken inside the browsers (epoch milliseconds of the click in one page, of the DOM change
in the other, from a MutationObserver), so Playwright's own polling does not count. Prints one JSON line with
p50/p95/max.

    .venv/bin/python bench/browser_roundtrip.py --rounds 50

Target (issue 5): p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_fanout import Stack, pct  # a sibling script

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OBSERVE = """(caseId) => {
  window.__seen = [];
  const row = () => document.querySelector(`[role=row][data-case="${caseId}"]`);
  const onLeave = () => (row()?.children[1]?.textContent || '').includes('Permission');
  let last = onLeave();
  new MutationObserver(() => {
    const now = onLeave();
    if (now !== last) { last = now; window.__seen.push({t: performance.timeOrigin + performance.now(), leave: now}); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
CLICKS = """() => document.addEventListener('click',
  () => { window.__clickAt = performance.timeOrigin + performance.now(); }, true)"""


async def sign_in(page: Page, ui: str, display_name: str) -> None:
    await page.goto(f"{ui}/login?next=/tavla")
    await page.get_by_role("button", name=f"Logga in som {display_name}").click()
    await page.wait_for_url(f"{ui}/tavla")


async def run(stack: Stack, rounds: int) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        actor = await (await browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")).new_page()
        viewer = await (await browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")).new_page()
        await sign_in(actor, stack.ui, "Sara Sjöberg")
        await sign_in(viewer, stack.ui, "Per Lindqvist")
        if not await viewer.get_by_role("heading", name="Utskrivningstavla – Avd 12 Geriatrik").is_visible():
            await viewer.get_by_label("Enhet du arbetar för").click()  # the coordinator works at two wards
            await viewer.get_by_role("option", name="Avd 12 Geriatrik").click()
            await viewer.get_by_role("heading", name="Utskrivningstavla – Avd 12 Geriatrik").wait_for()
        row = actor.locator('[role=row][data-case]').filter(has_text="Planering").first
        await row.wait_for()
        case_id = await row.get_attribute("data-case")
        name = (await row.locator('[role=cell]').first.locator("a").inner_text()).strip()
        await viewer.locator(f'[role=row][data-case="{case_id}"]').wait_for()
        await viewer.evaluate(OBSERVE, case_id)
        await actor.evaluate(CLICKS)
        latencies: list[float] = []
        for index in range(rounds):
            seen_before = await viewer.evaluate("window.__seen.length")
            await actor.get_by_role("button", name=f"Åtgärder för {name}").click()
            item = "Åter från permission" if index % 2 else "Permission"
            await actor.get_by_role("menuitem", name=item, exact=True).click()
            clicked = await actor.evaluate("window.__clickAt")
            await viewer.wait_for_function(f"window.__seen.length > {seen_before}", polling="raf", timeout=10_000)
            shown = await viewer.evaluate(f"window.__seen[{seen_before}].t")
            latencies.append((shown - clicked) / 1000)
            # the actor's own row must show it too before the next round (its menu lists the next action)
            await actor.locator(f'[role=row][data-case="{case_id}"]').filter(
                has_text="Permission" if index % 2 == 0 else "Planering").wait_for()
        await browser.close()
    print(json.dumps({"bench": "browser_roundtrip", "rounds": rounds, "p50_ms": round(pct(latencies, 50), 1),
                      "p95_ms": round(pct(latencies, 95), 1), "max_ms": round(max(latencies) * 1000, 1)}),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samplan-roundtrip-") as tmp:
        stack = Stack(Path(tmp))
        stack.start()
        try:
            asyncio.run(run(stack, args.rounds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
