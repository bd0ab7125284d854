"""`/sip`: the acting unit's coordinated individual plans (SIP), grouped by state, soonest follow-up first.

"Ny SIP" starts a plan outside a discharge at the acting unit (`ui/components/new_sip.py`). One read of
`GET /sip-plans?unit_id=` (the API sorts by the follow-up date that applies now; plans without a
date last). Each plan links to its meeting room (`/sip/{id}`).
"""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import sip
from ui.components.new_sip import new_sip_button
from ui.frame import frame


async def sip_list_page() -> None:
    async with frame("/sip", "SIP") as shell:
        unit_name = shell.hub.unit_name(shell.acting_unit) if shell.acting_unit else ""
        with ui.row().classes("w-full items-center justify-between gap-4"):
            ui.label(f"Samordnade individuella planer (SIP) – {unit_name}").classes("text-2xl font-bold").props(
                'role="heading" aria-level="1"')
            new_sip_button(shell)
        if shell.acting_unit is None:
            ui.label("Du arbetar inte för någon enhet med ärenden.").classes("text-lg")
        else:
            try:
                token = await shell.fresh_token()
                page: Json = await shell.api.request("GET", "/sip-plans", token,
                                                     params={"unit_id": shell.acting_unit, "limit": 500})
            except ApiError as exc:
                ui.label(exc.message).props('role="alert"').classes("text-lg")
            else:
                show_plans(page["items"])


def show_plans(plans: list[Json]) -> None:
    if not plans:
        ui.label("Enheten har inga planer.").classes("text-lg sp-muted")
        return
    for state in sip.STATE_ORDER:
        group = [p for p in plans if p["state"] == state]
        if not group:
            continue
        title = f"{sip.STATES[state]} ({len(group)})"
        with ui.card().classes("w-full").props(f'role="region" aria-label="{title}"'):
            ui.label(title).classes("text-xl font-bold").props('role="heading" aria-level="2"')
            grid = "grid-template-columns: minmax(14rem,2fr) 10rem 12rem 10rem"
            with ui.element("div").classes("w-full").props(f'role="table" aria-label="{title}"'):
                with ui.element("div").classes("sp-grid sp-row font-bold").style(grid).props('role="row"'):
                    for heading in ("Person", "Personnummer", "Nästa uppföljning", "Fastställd version"):
                        ui.label(heading).props('role="columnheader"')
                for plan in group:
                    with ui.element("div").classes("sp-grid sp-row text-lg").style(grid).props(
                            f'role="row" data-plan="{plan["id"]}"'):
                        with ui.element("div").props('role="cell"'):
                            ui.link(plan["person"]["name"], f"/sip/{plan['id']}").classes("font-bold text-blue-10")
                        ui.label(plan["person"]["identity"]).props('role="cell"')
                        ui.label(fmt.day(plan.get("next_follow_up_on")) if plan.get("next_follow_up_on")
                                 else "Inget datum").props('role="cell"')
                        number = plan.get("current_version_number")
                        ui.label(f"Version {number}" if number else "–").props('role="cell"')
