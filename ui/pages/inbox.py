"""The inbox (inkorg) of a municipal or primary care unit: notices arrive live, with a toast and the badge.

Each case with notices is one row: the notices not yet acknowledged, the case's state and the deadlines this
unit answers for. Acknowledge one case with one click, or several at once; appoint the named care contact,
forward within the organisation, answer "not ours", open the case. A change updates only its row, and only the
cells whose HTML differs; the patient and state cells are the board's (`cells.board_cells`: computed once per
case version and shared by every tab, board or inbox, that shows it).
"""

from __future__ import annotations

from typing import Any

from nicegui import background_tasks, ui

from domain.deadlines import watched_by
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells
from ui.components.actions import ACK, actions_for, perform
from ui.components.countdown import Countdown
from ui.components.discharge_notice import discharge_facts
from ui.components.sections import facts_html
from ui.frame import Frame, frame
from ui.live import LiveView, in_inbox_of, unacknowledged_for

INBOX_CSS = (".sp-inbox { grid-template-columns: 2.5rem minmax(13rem,2fr) minmax(14rem,2fr) 10rem "
             "minmax(14rem,2fr) 13rem; }"
             # A tablet (768 px): each row a card (select | patient | new notices, then status | deadlines, then
             # the actions across), every action reachable without sideways scrolling.
             "@media (max-width: 1000px) { .sp-inbox { grid-template-columns: 2.5rem minmax(0,1fr) minmax(0,1fr); "
             "gap: 4px 12px; align-items: start; } .sp-inbox > * { min-width: 0; overflow-wrap: anywhere; } "
             ".sp-inbox > :nth-child(4) { grid-column: 2; } .sp-inbox > :nth-child(5) { grid-column: 3; } "
             ".sp-inbox > :nth-child(6) { grid-column: 2 / span 2; } }")
PAGE = 50  # inbox cases per page (the API answers keyset pages)
COLUMNS = ("", "Patient", "Nya meddelanden", "Status", "Tidsfrister", "Åtgärder")


def notices_html(notices: list[Json], case: Json | None = None) -> str:
    """The unacknowledged notices; once the patient is discharged, the discharge notice's content to unfold."""
    shown = "".join(f'<div><span class="font-bold">{cells.escape(fmt.NOTICES.get(n["kind"], n["kind"]))}</span> '
                    f'<span class="sp-muted">{cells.escape(fmt.short_date_time(n["sent_at"]))}</span></div>'
                    for n in notices) or '<span class="sp-muted">Allt kvitterat</span>'
    if case is None or not case.get("discharge_information"):
        return shown
    content = facts_html(discharge_facts(case), extra_class="whitespace-pre-wrap flex-col")
    return (f'{shown}<details class="mt-1" data-discharge-content><summary class="cursor-pointer text-blue-10">'
            f'Utskrivningsmeddelandets innehåll</summary>{content}</details>')


class InboxRow:
    def __init__(self, inbox: Inbox, case: Json, unread: list[Json]) -> None:
        self.inbox = inbox
        self.case = case
        self.unread = unread
        name = cells.escape(case["patient"]["name"])
        self.element = ui.element("div").classes("sp-grid sp-row sp-inbox").props(
            f'role="row" data-case="{case["id"]}"')
        with self.element:
            with ui.element("div").props('role="cell"'):
                self.check = ui.checkbox(on_change=lambda _: inbox.update_selection()).props(
                    f'aria-label="Välj {name}"')
            patient, state, _ = cells.board_cells(case, inbox.frame.hub)
            self.patient = ui.html(patient, sanitize=False).props('role="cell"')
            self.notices = ui.html(notices_html(unread, case), sanitize=False).props('role="cell"')
            self.state = ui.html(state, sanitize=False).props('role="cell"')
            self.deadlines = Countdown(case["deadlines"], kinds=watched_by(inbox.frame.part),
                                       short=True, open_only=True,
                                       on_change=lambda kind, old, new: inbox.frame.deadline_changed(
                                           self.case, kind, new)).props('role="cell"')
            with ui.element("div").props('role="cell"').classes("flex gap-1 items-center"):
                self.ack = ui.button("Kvittera", icon="mark_email_read",
                                     on_click=lambda: inbox.acknowledge([self.case["id"]])).props(
                    f'dense no-caps color=primary aria-label="Kvittera meddelanden för {name}"')
                self.more = ui.button(icon="more_vert", on_click=self._open_menu).props(
                    f'flat dense aria-label="Fler åtgärder för {name}" aria-haspopup="menu"').mark(f"more-{case['id']}")
                self.menu: ui.menu | None = None
        self.ack.set_visibility(bool(unread))

    def update(self, case: Json, unread: list[Json]) -> None:
        self.case, self.unread = case, unread
        patient, state, _ = cells.board_cells(case, self.inbox.frame.hub)  # shared per case version, as the board
        for element, content in ((self.patient, patient), (self.notices, notices_html(unread, case)),
                                 (self.state, state)):
            if element.content != content:
                element.set_content(content)
        self.deadlines.set_deadlines(case["deadlines"])
        if self.ack.visible != bool(unread):
            self.ack.set_visibility(bool(unread))
        if not unread and self.check.value:
            self.check.set_value(False)

    def _open_menu(self) -> None:
        if self.menu is None:
            with self.more:
                self.menu = ui.menu().props('aria-label="Åtgärder" role="menu"')
        self.menu.clear()
        with self.menu:
            ui.menu_item("Öppna ärendet", on_click=lambda: ui.navigate.to(f"/arende/{self.case['id']}")).props(
                'role="menuitem"')
            for action in actions_for(self._with_unread()):
                if action is not ACK:
                    ui.menu_item(action.label, on_click=lambda a=action: self.inbox.run(self.case["id"], a)).props(
                        'role="menuitem"').mark(f"action-{action.key}")
        self.menu.open()

    def _with_unread(self) -> Json:
        unit = self.inbox.frame.acting_unit
        status = [{"unit_id": unit, "unacknowledged": len(self.unread)}]
        return {**self.case, "acknowledgement_status": status}


class Inbox(LiveView):
    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.unit_id = frame.acting_unit
        self.items: dict[str, tuple[Json, list[Json]]] = {}
        self.rows: dict[str, InboxRow] = {}
        self.only_unread = False
        self.body: ui.element | None = None
        self.bulk: ui.button | None = None
        self.empty: ui.label | None = None
        self.loaded = False
        self.pending: list[tuple[str, Json | None]] = []
        self.more: ui.button | None = None
        self.next: str | None = None  # the position of the inbox's next page (None: every page is shown)

    def build(self) -> None:
        with ui.row().classes("items-center gap-4 w-full"):
            ui.switch("Visa bara okvitterade", on_change=lambda e: self.set_only_unread(e.value))
            self.bulk = ui.button("Kvittera markerade", icon="done_all", on_click=self.acknowledge_selected).props(
                "no-caps color=primary")
            self.bulk.disable()
        with ui.element("div").classes("w-full").props('role="table" aria-label="Inkorg"'):
            with ui.element("div").classes("sp-grid sp-row sp-inbox sp-head font-bold bg-grey-2").props('role="row"'):
                for title in COLUMNS:
                    ui.label(title).props('role="columnheader"')
            self.body = ui.element("div").props('role="rowgroup"')
        self.empty = ui.label("Inkorgen är tom.").classes("p-4 sp-muted")
        self.more = ui.button("Visa fler", icon="expand_more", on_click=self.load_more).props("no-caps flat")
        self.more.set_visibility(False)

    async def load(self) -> None:
        """The first page of the inbox (unread first, newest first) and the counter; more pages on request."""
        token = await self.frame.fresh_token()
        assert self.frame.acting_unit is not None
        box = await self.frame.api.inbox(token, self.frame.acting_unit, limit=PAGE)
        self.frame.live.note_inbox(self.frame.acting_unit, box["items"], box["unread"])
        unit = self.frame.acting_unit
        self.items = {i["case"]["id"]: (self.frame.live.intern(i["case"], unit), i["unacknowledged"])
                      for i in box["items"]}
        self._show_next(box.get("next"))
        self.loaded = True
        for case_id, row in self.rows.items():  # a reload (resync): rows already shown take the new snapshot
            if case_id in self.items:
                row.update(*self.items[case_id])
        self.render_all()
        for case_id, case in self.pending:
            self.apply(case_id, case)
        self.pending.clear()

    def _show_next(self, position: str | None) -> None:
        self.next = position
        if self.more is not None:
            self.more.set_visibility(position is not None)

    async def load_more(self) -> None:
        """The following page of the inbox, after the rows shown (keyset: no row twice, none skipped)."""
        if self.next is None or self.frame.acting_unit is None:
            return
        unit = self.frame.acting_unit
        token = await self.frame.fresh_token()
        try:
            box = await self.frame.api.inbox(token, unit, after=self.next, limit=PAGE)
        except ApiError as exc:
            ui.notify(exc.message, type="negative")
            return
        self.frame.live.note_inbox(unit, box["items"], box["unread"])
        for item in box["items"]:
            self.items.setdefault(item["case"]["id"], (self.frame.live.intern(item["case"], unit),
                                                       item["unacknowledged"]))
        self._show_next(box.get("next"))
        self.render_all()

    def shown(self, case_id: str) -> bool:
        return case_id in self.items and (not self.only_unread or bool(self.items[case_id][1]))

    def ordered(self) -> list[str]:
        def key(case_id: str) -> tuple[int, float]:
            case, unread = self.items[case_id]
            times = [t.timestamp() for n in unread if (t := fmt.parse_time(n["sent_at"])) is not None]
            admitted = fmt.parse_time(case["admitted_at"])
            latest = max(times) if times else (admitted.timestamp() if admitted else 0.0)
            return (0 if unread else 1, -latest)  # unread first, newest first

        return sorted((c for c in self.items if self.shown(c)), key=key)

    def render_all(self) -> None:
        assert self.body is not None
        wanted = self.ordered()
        cells.place_rows(self.body, self.rows, wanted, lambda case_id: InboxRow(self, *self.items[case_id]))
        if self.empty is not None:
            self.empty.set_visibility(not wanted)
        self.update_selection()

    def set_only_unread(self, value: bool) -> None:
        self.only_unread = value
        self.render_all()

    def update_selection(self) -> None:
        selected = self.selected()
        if self.bulk is not None:
            self.bulk.set_text(f"Kvittera markerade ({len(selected)})" if selected else "Kvittera markerade")
            if selected:
                self.bulk.enable()
            else:
                self.bulk.disable()

    def selected(self) -> list[str]:
        return [c for c, row in self.rows.items() if row.check.value and row.unread]

    # ----- live -------------------------------------------------------------------------------------------------

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        if not self.loaded:
            self.pending.append((case_id, case))
            return
        self.apply(case_id, case)

    def apply(self, case_id: str, case: Json | None) -> None:
        unit = self.frame.acting_unit
        assert unit is not None
        old = self.items.get(case_id)
        if case is not None and old is not None and old[0]["version"] > case["version"]:
            return
        if case is None or not in_inbox_of(case, unit):
            self.items.pop(case_id, None)
        else:
            self.items[case_id] = (case, unacknowledged_for(case, unit))
        row = self.rows.get(case_id)
        if row is not None and self.shown(case_id):
            row.update(*self.items[case_id])
        self.render_all()

    def resync(self, unit_id: str) -> None:
        background_tasks.create(self.load(), name="inbox-resync")

    # ----- actions ----------------------------------------------------------------------------------------------

    async def acknowledge_selected(self) -> None:
        await self.acknowledge(self.selected())

    async def acknowledge(self, case_ids: list[str]) -> None:
        """Acknowledge the notices shown for each case (only those: a notice that arrives meanwhile stays)."""
        done = 0
        unit = self.frame.acting_unit
        assert unit is not None
        for case_id in case_ids:
            if case_id not in self.items:
                continue
            case, unread = self.items[case_id]
            if not unread:
                continue
            body = {"notice_ids": [n["id"] for n in unread]}
            result = await self._ack(case, body)
            if result is not None:
                done += 1
                self.frame.live.apply_result(result, unit)
                self.apply(case_id, result)
        if done:
            ui.notify(f"Kvitterat ({done} ärenden)" if done > 1 else "Kvitterat", type="positive", position="top")

    async def _ack(self, case: Json, body: dict[str, Any]) -> Json | None:
        """One acknowledgement; a stale version is retried once with the current one (the same notices)."""
        for _ in range(2):
            try:
                token = await self.frame.fresh_token()
                result: Json = await self.frame.api.action(token, case["id"], ACK.path,
                                                           {"expected_version": case["version"], **body},
                                                           acting_unit=self.frame.acting_unit)
                return result
            except ApiError as exc:
                if exc.stale and exc.current is not None:
                    case = exc.current
                    continue
                ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
                return None
        return None

    async def run(self, case_id: str, action: Any) -> None:
        item = self.items.get(case_id)
        if item is None:
            return
        await perform(self.frame, item[0], action, on_result=lambda c: self.apply(c["id"], c))


async def inbox_page(path: str = "/inkorg") -> None:
    async with frame(path, "Inkorg") as shell:
        title = shell.hub.unit_name(shell.acting_unit) if shell.acting_unit else ""
        ui.label(f"Inkorg – {title}").classes("text-2xl font-bold").props('role="heading" aria-level="1"')
        if not shell.is_receiving:
            ui.label("Inkorgen är till för kommunens och primärvårdens enheter. Välj en sådan enhet, eller "
                     "använd utskrivningstavlan.")
            ui.link("Till utskrivningstavlan", "/tavla")
            return
        ui.add_css(INBOX_CSS)
        inbox = Inbox(shell)
        inbox.build()
        shell.watch(inbox)
        try:
            await inbox.load()
        except ApiError as exc:
            ui.label(exc.message).props('role="alert"')
