"""The discharge board (utskrivningstavla): the acting unit's patients, live.

Each case is one row of a few elements; a change to a case updates only the cells of its row that changed
(never the whole board). Deadlines count down through the process-wide ticker. Sorting moves rows; filtering
creates or drops rows (hidden cases cost no elements).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import background_tasks, ui

from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import ApiClient, ApiError, Json
from ui.components import cells
from ui.components.actions import actions_for, perform
from ui.components.cellcast import CELLCAST
from ui.components.countdown import Countdown
from ui.components.patient_search import PatientSearch
from ui.components.register_case import register_button
from ui.components.reserve import reserve_list_button
from ui.frame import Frame, frame
from ui.live import LiveView

BOARD_DEADLINES = ("admission_notice", "sip_invitation", "payment_liability")
STATE_ORDER = {s: i for i, s in enumerate(("ready_for_discharge", "planning", "admitted", "discharged",
                                            "interrupted", "closed", "cancelled"))}
FILTERS = {
    "open": "Alla pågående",
    "admitted": "Inskrivna (utkast)",
    "planning": "Planering",
    "ready_for_discharge": "Utskrivningsklara",
    "ended": "Avslutade (senast inskrivna först)",
}
HISTORY_PAGE = 50  # ended cases per page of the board's history
SORTS = {
    "deadline": "Närmaste tidsfrist",
    "eta": "Beräknad utskrivning",
    "name": "Patientens namn",
    "state": "Status",
    "admitted": "Inskrivningstid",
}
COLUMNS = ("Patient (och vem som tittar nu)", "Status och beräknad utskrivning", "Tidsfrister", "Kvittenser",
           "Åtgärder")
BOARD_CSS = (".sp-board { grid-template-columns: minmax(14rem,2fr) minmax(11rem,1fr) minmax(16rem,2.5fr) "
             "minmax(12rem,2fr) 9rem; }"
             # A tablet (768 px): each patient a card of two columns (patient | status, deadlines | receipts,
             # actions), so every action is reachable without sideways scrolling; the header row is read aloud only.
             "@media (max-width: 1000px) { .sp-board { grid-template-columns: minmax(0,1fr) minmax(0,1fr); "
             "gap: 4px 12px; align-items: start; } .sp-board > * { min-width: 0; overflow-wrap: anywhere; } }")
_FAR = "9999"


def _next_deadline(case: Json) -> str:
    dues = [d["due_at"] for d in case.get("deadlines", []) if d.get("met_at") is None]
    return min(dues) if dues else _FAR


SORT_KEYS: dict[str, Callable[[Json], Any]] = {
    "deadline": lambda c: (_next_deadline(c), c["patient"]["name"]),
    "eta": lambda c: (c.get("estimated_discharge_at") or _FAR, c["patient"]["name"]),
    "name": lambda c: (c["patient"]["name"].casefold(), c["id"]),
    "state": lambda c: (STATE_ORDER.get(c["state"], 9), c["patient"]["name"]),
    "admitted": lambda c: (c["admitted_at"], c["id"]),
}



async def board_cases(api: ApiClient, token: str, unit_id: str) -> list[Json]:
    """What the board shows of a unit: its open cases (the server decides what is open), all of them, page by page
    (never a first page of its whole history, which a long history fills with ended cases)."""
    return await api.list_open_cases(token, unit_id)

class BoardRow:
    """One case on the board: a grid row of cells, each updated only when its HTML changes."""

    def __init__(self, board: Board, case: Json) -> None:
        self.board = board
        self.case = case
        frame = board.frame
        self.element = ui.element("div").classes("sp-grid sp-row sp-board").props(
            f'role="row" data-case="{case["id"]}" data-row="{case["id"]}"')
        patient, state, acks = cells.board_cells(case, frame.hub)
        with self.element:  # 5 cells, 7 elements: memory per tab is what limits how many tabs a process serves
            row = str(case["id"])
            self.patient = CELLCAST.cell(ui.html(patient + self._presence_html(), sanitize=False).props(
                'role="cell"'), row, "patient")
            self.state = CELLCAST.cell(ui.html(state, sanitize=False).props('role="cell"'), row, "state")
            self.deadlines = Countdown(case["deadlines"], kinds=BOARD_DEADLINES, short=True,
                                       on_change=self._deadline_changed).props('role="cell"')
            self.acks = CELLCAST.cell(ui.html(acks, sanitize=False).props('role="cell"'), row, "acks")
            with ui.element("div").props('role="cell"'):
                self.actions = ui.button("Åtgärder", icon="more_vert", on_click=self._open_menu).props(
                    f'flat dense no-caps aria-label="Åtgärder för {cells.escape(case["patient"]["name"])}" '
                    'aria-haspopup="menu"').mark(f"actions-{case['id']}")
                self.menu: ui.menu | None = None

    def _presence_html(self) -> str:
        frame = self.board.frame
        return cells.presence_html(frame.live.viewers.get(self.case["id"], []), frame.user_id, frame.hub)

    def update(self, case: Json) -> None:
        self.case = case
        frame = self.board.frame
        patient, state, acks = cells.board_cells(case, frame.hub)
        row = str(case["id"])
        for element, name, content in ((self.patient, "patient", patient + self._presence_html()),
                                       (self.state, "state", state), (self.acks, "acks", acks)):
            if element.content != content:
                CELLCAST.set(element, row, name, content)
        self.deadlines.set_deadlines(case["deadlines"])

    def show_presence(self) -> None:
        self.update(self.case)

    def _deadline_changed(self, kind: str, old: str, new: str) -> None:
        self.board.frame.deadline_changed(self.case, kind, new)
        self.board.update_summary()

    def _open_menu(self) -> None:
        if self.menu is None:
            with self.actions:
                self.menu = ui.menu().props('aria-label="Åtgärder" role="menu"')
        self.menu.clear()
        with self.menu:
            ui.menu_item("Öppna ärendet", on_click=lambda: ui.navigate.to(f"/arende/{self.case['id']}")).props(
                'role="menuitem"')
            for action in actions_for(self.case):
                ui.menu_item(action.label, on_click=lambda a=action: self.board.run(self.case["id"], a)).props(
                    'role="menuitem"').mark(f"action-{action.key}")
        self.menu.open()


class Board(LiveView):
    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.unit_id = frame.acting_unit
        self.cases: dict[str, Json] = {}
        self.rows: dict[str, BoardRow] = {}
        self.filter = "open"
        self.sort = "deadline"
        self.search = ""
        self.urgent_only = False
        self.body: ui.element | None = None
        self.summary: ui.label | None = None
        self.empty: ui.label | None = None
        self.pending: list[tuple[str, Json | None]] = []
        self.loaded = False
        self.history_loaded = 0  # ended cases fetched so far (the history is paged, never loaded whole)
        self.history_total: int | None = None  # how many ended cases the unit has (None: not asked yet)
        self.more: ui.button | None = None

    # ----- building ---------------------------------------------------------------------------------------------

    def build_controls(self) -> None:
        with ui.row().classes("items-end gap-4 w-full flex-wrap").props('role="search" aria-label="Filtrera tavlan"'):
            ui.input("Filtrera tavlan (namn eller personnummer)", on_change=lambda e: self.set_search(e.value)).props(
                "clearable dense outlined").classes("min-w-[18rem]")
            ui.select(FILTERS, value=self.filter, label="Visa", on_change=lambda e: self.set_filter(e.value)).props(
                "dense outlined").classes("min-w-[16rem]")
            ui.select(SORTS, value=self.sort, label="Sortera på", on_change=lambda e: self.set_sort(e.value)).props(
                "dense outlined").classes("min-w-[12rem]")
            ui.checkbox("Endast snart försenade och försenade", on_change=lambda e: self.set_urgent(e.value))
            ui.space()
            self.summary = ui.label("").classes("text-base").props('aria-live="polite"')

    def build_table(self) -> None:
        with ui.element("div").classes("w-full").props('role="table" aria-label="Utskrivningstavla" '
                                                        'aria-describedby="sp-board-summary"'):
            with ui.element("div").classes("sp-grid sp-row sp-board sp-head font-bold bg-grey-2").props('role="row"'):
                for title in COLUMNS:
                    ui.label(title).props('role="columnheader"')
            self.body = ui.element("div").props('role="rowgroup"')
        self.empty = ui.label("Inga patienter matchar urvalet.").classes("p-4 sp-muted")
        self.more = ui.button("Visa fler avslutade", icon="expand_more", on_click=self.load_history).props(
            "no-caps flat")
        self.more.set_visibility(False)
        if self.summary is not None:
            self.summary.props('id="sp-board-summary"')

    async def load(self) -> None:
        """The snapshot: every open case of the unit (what the board shows; page by page), then rows for those
        the filter shows. Cases closed while the board is open stay, from their live updates."""
        token = await self.frame.fresh_token()
        assert self.frame.acting_unit is not None
        items = await board_cases(self.frame.api, token, self.frame.acting_unit)
        await self.frame.hub.load_units(token, {s["unit_id"] for c in items for s in c["acknowledgement_status"]})
        viewer_ids = {v.user_id for vs in self.frame.live.viewers.values() for v in vs}
        await self.frame.hub.load_people(token, viewer_ids)
        unit = self.frame.acting_unit
        self.cases = {c["id"]: self.frame.live.intern(c, unit) for c in items}
        self.loaded = True
        for case_id, row in self.rows.items():  # a reload (resync): rows already shown take the new snapshot
            if case_id in self.cases:
                row.update(self.cases[case_id])
        self.render_all()
        for case_id, case in self.pending:
            self.apply(case_id, case)
        self.pending.clear()

    # ----- filtering and sorting --------------------------------------------------------------------------------

    def shown(self, case: Json) -> bool:
        if self.filter == "ended":
            if case["open"]:
                return False
        elif not case["open"] or (self.filter != "open" and case["state"] != self.filter):
            return False
        if self.search:
            needle = self.search.casefold().replace("-", "")
            haystack = f"{case['patient']['name']} {case['patient']['identity']}".casefold().replace("-", "")
            if needle not in haystack:
                return False
        return not (self.urgent_only and case.get("deadline_state") not in ("at_risk", "overdue"))

    def ordered_ids(self) -> list[str]:
        key = SORT_KEYS[self.sort]
        return [c["id"] for c in sorted((c for c in self.cases.values() if self.shown(c)), key=key)]

    def render_all(self) -> None:
        assert self.body is not None
        cells.place_rows(self.body, self.rows, self.ordered_ids(), lambda case_id: BoardRow(self, self.cases[case_id]))
        self.update_summary()

    def set_search(self, value: str | None) -> None:
        self.search = (value or "").strip()
        self.render_all()

    def set_filter(self, value: str) -> None:
        self.filter = value
        self.render_all()
        if value == "ended" and self.history_total is None:
            background_tasks.create(self.load_history(), name="board-history")
        self._show_more()

    async def load_history(self) -> None:
        """The next page of the unit's ended cases (newest admission first, `HISTORY_PAGE` at a time)."""
        assert self.frame.acting_unit is not None
        token = await self.frame.fresh_token()
        try:
            page = await self.frame.api.ended_cases(token, self.frame.acting_unit, offset=self.history_loaded,
                                                    limit=HISTORY_PAGE)
        except ApiError as exc:
            ui.notify(exc.message, type="negative")
            return
        unit = self.frame.acting_unit
        for case in page["items"]:
            self.cases.setdefault(case["id"], self.frame.live.intern(case, unit))
        self.history_loaded += len(page["items"])
        self.history_total = page["total"] if page["items"] else self.history_loaded
        self.render_all()
        self._show_more()

    def _show_more(self) -> None:
        if self.more is not None:
            left = (self.history_total or 0) - self.history_loaded
            self.more.set_text(f"Visa {min(left, HISTORY_PAGE)} till av {left} avslutade")
            self.more.set_visibility(self.filter == "ended" and left > 0)

    def set_sort(self, value: str) -> None:
        self.sort = value
        self.render_all()

    def set_urgent(self, value: bool) -> None:
        self.urgent_only = value
        self.render_all()

    def update_summary(self) -> None:
        shown = [c for c in self.cases.values() if self.shown(c)]
        overdue = sum(1 for c in shown if self._worst(c) == "overdue")
        at_risk = sum(1 for c in shown if self._worst(c) == "at_risk")
        text = (f"{fmt.plural(len(shown), 'patient', 'patienter')} · {overdue} med försenad tidsfrist · "
                f"{at_risk} snart försenade")
        if self.summary is not None and self.summary.text != text:
            self.summary.set_text(text)
        if self.empty is not None:
            self.empty.set_visibility(not shown)

    def _worst(self, case: Json) -> str | None:
        row = self.rows.get(case["id"])
        return row.deadlines.worst() if row is not None else case.get("deadline_state")

    # ----- live -------------------------------------------------------------------------------------------------

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        if not self.loaded:
            self.pending.append((case_id, case))
            return
        self.apply(case_id, case)

    def apply(self, case_id: str, case: Json | None) -> None:
        old = self.cases.get(case_id)
        if case is not None and old is not None and old["version"] > case["version"]:
            return
        if case is None:
            self.cases.pop(case_id, None)
        else:
            self.cases[case_id] = case
            missing = {s["unit_id"] for s in case["acknowledgement_status"]
                       if not self.frame.hub.knows_unit(s["unit_id"])}
            if missing:
                background_tasks.create(self._load_units_then_update(case_id, missing), name="board-units")
        row = self.rows.get(case_id)
        if case is None or not self.shown(case):
            if row is not None:
                assert self.body is not None
                self.body.remove(self.rows.pop(case_id).element)
                self.update_summary()
            return
        if row is None:
            self.render_all()  # a new row, placed in order
            return
        before = (row.deadlines.worst(), old["state"] if old else None)
        row.update(case)
        key = SORT_KEYS[self.sort]
        if (old is None or key(old) != key(case)) and not self._in_order(row):
            wanted = self.ordered_ids()
            assert self.body is not None
            row.element.move(self.body, target_index=wanted.index(case_id))
        if (row.deadlines.worst(), case["state"]) != before:
            self.update_summary()

    def _in_order(self, row: BoardRow) -> bool:
        """Whether the row still sits between its neighbours in the sort order (no full sort per change)."""
        assert self.body is not None
        children = self.body.default_slot.children
        index = children.index(row.element)
        key = SORT_KEYS[self.sort]
        mine = key(row.case)
        if index > 0:
            previous = self.rows.get(str(children[index - 1].props.get("data-case")))
            if previous is not None and key(previous.case) > mine:
                return False
        if index + 1 < len(children):
            following = self.rows.get(str(children[index + 1].props.get("data-case")))
            if following is not None and key(following.case) < mine:
                return False
        return True

    async def _load_units_then_update(self, case_id: str, unit_ids: set[str]) -> None:
        await self.frame.hub.load_units(self.frame.token, unit_ids)
        row = self.rows.get(case_id)
        if row is not None:
            row.update(row.case)

    def presence(self, case_id: str, viewers: list[Viewer]) -> None:
        row = self.rows.get(case_id)
        if row is None:
            return
        self.frame.with_people({v.user_id for v in viewers}, row.show_presence)

    def resync(self, unit_id: str) -> None:
        background_tasks.create(self.load(), name="board-resync")

    async def run(self, case_id: str, action: Any) -> None:
        case = self.cases.get(case_id)
        if case is None:
            return
        await perform(self.frame, case, action, on_result=lambda c: self.apply(c["id"], c))


async def board_page(path: str = "/tavla") -> None:
    async with frame(path, "Utskrivningstavla") as shell:
        title = shell.hub.unit_name(shell.acting_unit) if shell.acting_unit else ""
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(f"Utskrivningstavla – {title}").classes("text-2xl font-bold").props(
                'role="heading" aria-level="1"')
            ui.space()
            new_case = ui.row()
        if shell.acting_unit is None:
            ui.label("Du har ingen enhet som arbetar med ärenden.")
            return
        ui.add_css(BOARD_CSS)
        CELLCAST.page()
        board = Board(shell)
        unit = shell.acting_unit
        with new_case:  # the answer shows the new row at once (its live event then changes nothing)
            reserve_list_button(shell, unit)
            register_button(shell, lambda case: shell.live.apply_result(case, unit))
        PatientSearch(shell).build()
        board.build_controls()
        board.build_table()
        shell.watch(board)  # before the snapshot: what changes meanwhile is applied after it
        try:
            await board.load()
        except ApiError as exc:
            ui.label(exc.message).props('role="alert"')
