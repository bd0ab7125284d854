"""The room's link to its discharge case (a plan started inside a discharge): the way back to the case, its state,
and the case's SIP invitation deadline (process.md step 5), the same facts the case view shows
(`ui.components.sip.case_sip_facts`). The case is read once with the room (`GET /cases/{id}`, access-logged as
any case view) and then follows the user's live stream (`SipRoom.case_changed`): the plan's first meeting invitation
meets the deadline on the case, and the room shows it without a reload. A user whose unit does not see the case
reads that it is not visible to them, never the case."""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells
from ui.components.sections import facts_html
from ui.components.sip import case_sip_facts
from ui.frame import Frame


class PlanCase:
    def __init__(self, frame: Frame, case_id: str) -> None:
        self.frame = frame
        self.case_id = case_id
        self.case: Json | None = None
        with ui.card().classes("w-full").props('role="region" aria-label="Utskrivningsärendet"'):
            with ui.row().classes("items-center gap-4"):
                ui.label("Planen hör till ett utskrivningsärende").classes("sp-h2").props(
                    'role="heading" aria-level="2"')
                ui.link("Till ärendet", f"/arende/{case_id}").classes("text-blue-10 font-bold text-lg").mark(
                    "sip-case-link")
            self.facts = ui.html("", sanitize=False).mark("sip-case-facts")

    async def load(self) -> None:
        try:
            token = await self.frame.fresh_token()
            case: Json = await self.frame.api.request("GET", f"/cases/{self.case_id}", token,
                                                      acting_unit=self.frame.acting_unit)
        except ApiError as exc:
            self.facts.set_content(facts_html([("Ärendet", "Inte synligt för din enhet" if exc.status in (403, 404)
                                                else exc.message)]))
            return
        self.show(case)

    def show(self, case: Json) -> None:
        if self.case is not None and case["version"] < self.case["version"]:
            return
        self.case = case
        content = (f'<div class="mb-2">{cells.state_html(case)}</div>'
                   + facts_html([("Inskriven", fmt.date_time(case["admitted_at"])),
                                 ("Utskrivningsklar", fmt.date_time(case.get("ready_for_discharge_at"))),
                                 *case_sip_facts(case)]))
        if content != self.facts.content:
            self.facts.set_content(content)
