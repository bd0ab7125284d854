"""`/arende/{case_id}`: the case view (*ärendevy*) — patient header, who is looking, the actions, the discharge
notice's content, the SIP link, deadlines, payment liability with its facts, needs, participating units, planning
forms, the home-ready checklist and the timeline, one module per section in this package (the SIP meeting room's
package is the model).

Sections change only when their content does: read-only sections are HTML rendered from the case and sent to the
browser only when the string differs (`HtmlSection`); sections with controls (the actions, the participants with
their buttons) are rebuilt only when the data they show changes (`KeyedSection`); forms (this unit's planning
form in `planning.py`, the liability facts in `payment.py`, the home-ready checklist in `home_ready.py`) are
never rebuilt: a field the user has not touched takes the new value, a touched one keeps what the user typed.

What the view offers is what the API allows the acting unit (`allowed_actions` in the case), never worked out here.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import background_tasks, ui

from realtime.protocol import Viewer
from ui.api_client import ApiError, Json
from ui.components.reserve import case_sheet_button
from ui.components.sections import HtmlSection, KeyedSection
from ui.frame import Frame, frame
from ui.live import LiveView
from ui.pages.case.actions import ActionsSection
from ui.pages.case.deadlines import DeadlinesSection
from ui.pages.case.discharge import DischargeSection
from ui.pages.case.header import HeaderSection, PresenceLine
from ui.pages.case.home_ready import HomeReadySection
from ui.pages.case.needs import NeedsSection
from ui.pages.case.participants import ParticipantsSection
from ui.pages.case.parts import people_of
from ui.pages.case.payment import PaymentSection
from ui.pages.case.planning import PlanningSection
from ui.pages.case.sip_link import CaseSip
from ui.pages.case.timeline import TimelineSection

__all__ = ["CaseView", "case_page"]


class CaseView(LiveView):
    def __init__(self, frame: Frame, case: Json) -> None:
        self.frame = frame
        self.unit_id = None  # the case may come through any of the user's units
        self.case = case
        self.sections: list[HtmlSection | KeyedSection] = []

    @property
    def case_id(self) -> str:
        return str(self.case["id"])

    def html(self, render: Callable[[], str], marker: str) -> HtmlSection:
        """A read-only section of the view, updated with every newer case."""
        section = HtmlSection(render)
        section.element.mark(marker)
        self.sections.append(section)
        return section

    def keyed(self, key: Callable[[], object], build: Callable[[], None]) -> KeyedSection:
        """A section with controls, rebuilt when its key changes with a newer case."""
        section = KeyedSection(key, build)
        self.sections.append(section)
        return section

    def build(self) -> None:
        HeaderSection(self)
        self.presence_line = PresenceLine(self)
        ActionsSection(self)
        DischargeSection(self)
        self.sip = CaseSip(self.frame, self.case)
        background_tasks.create(self.sip.load(), name="case-sip")
        with ui.row().classes("w-full gap-4 items-start flex-wrap"):
            self.deadlines = DeadlinesSection(self)
            self.payment = PaymentSection(self)
        NeedsSection(self)
        ParticipantsSection(self)
        self.planning = PlanningSection(self)
        self.home_ready = HomeReadySection(self)
        TimelineSection(self)

    # ----- live -------------------------------------------------------------------------------------------------

    def show(self, case: Json) -> None:
        """Show a (newer) state of the case: each section changes only where its content did; the forms keep what
        the user typed."""
        if case is self.case or case["version"] < self.case["version"]:
            return  # an older state, or this one again (an action's answer reaches `show` twice)
        self.case = case
        self.sip.follow(case)
        background_tasks.create(self._names_then_refresh(), name="case-refresh")

    async def _names_then_refresh(self) -> None:
        await self.frame.hub.load_people(self.frame.token, people_of(self.case))
        self.update_sections()

    def update_sections(self) -> None:
        for section in self.sections:
            section.update()
        self.deadlines.refresh_from(self.case)
        for form in (self.planning, self.payment, self.home_ready):
            form.refresh_from(self.case)

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        if case_id != self.case_id:
            return
        if case is None:
            ui.notify("Ärendet är inte längre synligt för din enhet.", type="warning")
            return
        self.show(case)

    def presence(self, case_id: str, viewers: list[Viewer]) -> None:
        if case_id == self.case_id:
            self.frame.with_people({v.user_id for v in viewers}, lambda: self.presence_line.show(viewers))


async def case_page(case_id: str) -> None:
    async with frame(f"/arende/{case_id}", "Ärende") as shell:
        with ui.row().classes("w-full items-center"):
            ui.link("← Tillbaka", "/").classes("text-blue-10")
            ui.space()
            case_sheet_button(shell, case_id)
        try:
            token = await shell.fresh_token()
            case = await shell.api.get_case(token, case_id, shell.acting_unit)
        except ApiError as exc:
            ui.label(exc.message).props('role="alert"').classes("text-lg")
            return
        await shell.hub.load_people(token, people_of(case))
        view = CaseView(shell, case)
        shell.watch(view)
        view.build()
        await shell.live.viewing(case_id)
        shell.client.on_delete(lambda: background_tasks.create(shell.live.left(case_id), name="presence-left"))
        # A change that landed between the read and the watch: fetch once more through the hub (coalesced).
        shell.live.refresh(case_id, shell.acting_unit or "", case["version"] + 1)
