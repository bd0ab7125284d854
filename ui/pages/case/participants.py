"""The units taking part in the case, each with its part, status and unacknowledged notices; the unit the API
lets manage them (the ward, while the case is open) adds receiving units and removes them."""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError
from ui.components.actions import ADD_PARTICIPANT, REMOVE_PARTICIPANT, may, perform
from ui.components.admin_table import UNIT_KINDS
from ui.components.cells import escape
from ui.live import unacknowledged_for
from ui.pages.case.parts import CaseHost, card, heading


class ParticipantsSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        with card("Deltagande enheter"):
            heading("Deltagande enheter och kvittenser")
            host.keyed(self.key, self.build)

    def manages(self) -> bool:
        """The unit adds and removes receiving units (the ward, while the case is open)."""
        return may(self.host.case, ADD_PARTICIPANT)

    def key(self) -> object:
        case = self.host.case
        rows = tuple((p["unit_id"], p["unit_name"], p["part"], p["status"],
                      len(unacknowledged_for(case, p["unit_id"])), case["state"] == "admitted")
                     for p in case["participants"])
        return rows, self.manages()

    def build(self) -> None:
        case = self.host.case
        manage = self.manages()
        columns = ("Enhet", "Roll", "Status", "Kvittens", *(("Åtgärd",) if manage else ()))
        grid = "grid-template-columns: 2fr 1fr 1fr 2fr" + (" 9rem" if manage else "")
        with ui.element("div").classes("w-full").props('role="table" aria-label="Deltagande enheter"'):
            with ui.element("div").classes("sp-grid sp-row font-bold").style(grid).props('role="row"'):
                for title in columns:
                    ui.label(title).props('role="columnheader"')
            for p in case["participants"]:
                with ui.element("div").classes("sp-grid sp-row").style(grid).props(
                        f'role="row" data-unit="{escape(p["unit_id"])}"'):
                    ui.label(p["unit_name"]).props('role="cell"')
                    ui.label(fmt.PARTS.get(p["part"], p["part"])).props('role="cell"')
                    ui.label(fmt.PARTICIPANT_STATUS.get(p["status"], p["status"])).props('role="cell"')
                    waiting = unacknowledged_for(case, p["unit_id"])
                    if p["part"] == "inpatient_unit" or p["status"] != "active":
                        text = "–"
                    elif case["state"] == "admitted":
                        text = "Inte skickat än"
                    else:
                        text = fmt.plural(len(waiting), "okvitterat", "okvitterade") if waiting else "Allt kvitterat"
                    ui.label(text).props('role="cell"').classes("sp-at_risk" if waiting else "")
                    if manage:
                        with ui.element("div").props('role="cell"'):
                            if p["part"] != "inpatient_unit" and p["status"] == "active":
                                ui.button("Ta bort", icon="group_remove",
                                          on_click=lambda u=p["unit_id"], n=p["unit_name"]: self.remove(u, n)).props(
                                    f'flat dense no-caps color=negative aria-label="Ta bort {escape(p["unit_name"])} '
                                    f'från ärendet"').mark(f"remove-{p['unit_id']}")
        if manage:
            ui.button("Lägg till enhet", icon="group_add", on_click=self.add).props(
                "no-caps outline").classes("mt-2").mark("add-participant")

    async def add(self) -> None:
        host, frame = self.host, self.host.frame
        try:
            token = await frame.fresh_token()
            units = await frame.api.units(token, receiving=True)  # the units a case can be sent to
        except ApiError as exc:
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        frame.hub.remember_units(units)
        taking_part = {p["unit_id"] for p in host.case["participants"] if p["status"] == "active"}
        options = {u["id"]: f"{u['name']} ({UNIT_KINDS.get(u['kind'], u['kind'])})"
                   for u in sorted(units, key=lambda u: str(u["name"])) if u["id"] not in taking_part}
        with ui.dialog() as dialog, ui.card().classes("min-w-[28rem]").props(
                'role="dialog" aria-modal="true" aria-label="Lägg till enhet"'):
            ui.label("Lägg till enhet").classes("text-lg font-bold").props('role="heading" aria-level="2"')
            ui.label("Enheten blir deltagare i ärendet och får de meddelanden som skickats hittills.").classes(
                "sp-muted")
            choice = ui.select(options, label="Enhet att lägga till", with_input=True).classes("w-full").mark(
                "participant-choice")
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Avbryt", on_click=lambda: dialog.submit(None)).props("flat")
                ui.button("Lägg till", on_click=lambda: dialog.submit(True)).props("color=primary").mark(
                    "confirm-add")
        confirmed = await dialog
        unit_id = choice.value
        dialog.delete()
        if confirmed and unit_id:
            await perform(frame, host.case, ADD_PARTICIPANT, on_result=host.show, body={"unit_id": unit_id})

    async def remove(self, unit_id: str, name: str) -> None:
        with ui.dialog() as dialog, ui.card().classes("min-w-[24rem]").props(
                'role="dialog" aria-modal="true" aria-label="Ta bort enhet"'):
            ui.label("Ta bort enhet").classes("text-lg font-bold").props('role="heading" aria-level="2"')
            ui.label(f"Ta bort {name} från ärendet? Enheten ser inte längre ärendet.")
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Avbryt", on_click=lambda: dialog.submit(None)).props("flat")
                ui.button("Ta bort", on_click=lambda: dialog.submit(True)).props("color=negative").mark(
                    "confirm-remove")
        confirmed = await dialog
        dialog.delete()
        if confirmed:
            await perform(self.host.frame, self.host.case, REMOVE_PARTICIPANT, on_result=self.host.show,
                          body={"unit_id": unit_id})
