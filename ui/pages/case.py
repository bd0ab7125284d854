"""The case view (ärendevy): patient header, participants, deadlines, payment liability, planning forms,
home-ready checklist, timeline, presence and the actions.

A change by someone else redraws the read-only sections (one viewer per case is the normal load; the board
is where updates must be surgical) but never the user's own form while they edit it. Saving the planning form
merges per field: when the case changed elsewhere, the save is retried on the new version; when someone else
changed the same field of this unit's form, the user sees "someone changed this; here is the new state" with
the other value beside their own text, which stays in the field.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import background_tasks, ui

from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells
from ui.components.actions import actions_for, perform
from ui.components.countdown import Countdown
from ui.frame import Frame, page_frame
from ui.live import LiveView, unacknowledged_for

TEXT_FIELDS = {
    "current_services": "Nuvarande insatser",
    "aids": "Hjälpmedel",
    "medication_handover": "Läkemedelsöverlämning",
    "adl": "ADL (förmåga i dagliga aktiviteter)",
    "notes": "Övrigt",
}
PLANNING_FIELDS = ("current_services", "expected_needs", "aids", "medication_handover", "adl", "notes")


def planning_of(case: Json, unit_id: str | None) -> dict[str, Any]:
    form = next((p for p in case.get("planning", []) if p["unit_id"] == unit_id), None)
    values: dict[str, Any] = {f: "" for f in TEXT_FIELDS}
    values["expected_needs"] = []
    if form is not None:
        values.update({f: form[f] for f in PLANNING_FIELDS})
    values["expected_needs"] = sorted(values["expected_needs"])
    return values


class PlanningEditor:
    """This unit's planning form: the user's text is never overwritten by a live update or a conflict."""

    def __init__(self, view: CaseView) -> None:
        self.view = view
        self.base = planning_of(view.case, view.frame.acting_unit)  # what the form was when the user started
        self.inputs: dict[str, Any] = {}
        self.conflicts: dict[str, ui.label] = {}
        with ui.card().classes("w-full").props('role="region" aria-label="Vårt planeringsunderlag"'):
            ui.label("Vårt planeringsunderlag").classes("text-lg font-bold").props('role="heading" aria-level="3"')
            self.notice = ui.label("").classes("sp-at_risk").props('role="status"')
            self.notice.set_visibility(False)
            needs = ui.select(fmt.NEEDS, multiple=True, value=list(self.base["expected_needs"]),
                              label="Förväntade behov efter utskrivning").props("use-chips outlined").classes("w-full")
            self._track(needs, "expected_needs")
            self.inputs["expected_needs"] = needs
            self.conflicts["expected_needs"] = self._conflict_label()
            for field, label in TEXT_FIELDS.items():
                area = ui.textarea(label, value=self.base[field]).props("outlined autogrow").classes("w-full")
                self._track(area, field)
                self.inputs[field] = area
                self.conflicts[field] = self._conflict_label()
            with ui.row().classes("gap-2"):
                self.save_button = ui.button("Spara planeringsunderlag", icon="save", on_click=self.save).props(
                    "no-caps color=primary")
            self.saved = ui.label("").classes("sp-muted").props('role="status"')

    @staticmethod
    def _conflict_label() -> ui.label:
        label = ui.label("").classes("sp-at_risk whitespace-pre-wrap")
        label.set_visibility(False)
        return label

    def _track(self, element: Any, field: str) -> None:
        live = self.view.frame.live
        case_id = self.view.case["id"]
        element.on("focus", lambda: background_tasks.create(live.editing(case_id, field), name="presence"))
        element.on("blur", lambda: background_tasks.create(live.editing(case_id, None), name="presence"))

    def values(self) -> dict[str, Any]:
        result = {f: self.inputs[f].value or "" for f in TEXT_FIELDS}
        result["expected_needs"] = sorted(self.inputs["expected_needs"].value or [])
        return result

    def dirty(self) -> bool:
        return self.values() != self.base

    def refresh_from(self, case: Json) -> None:
        """A live change: take the server's form where the user has not typed (fields they changed stay)."""
        theirs = planning_of(case, self.view.frame.acting_unit)
        mine = self.values()
        for field in PLANNING_FIELDS:
            if mine[field] == self.base[field] and theirs[field] != self.base[field]:
                self.inputs[field].set_value(theirs[field] if field != "expected_needs" else list(theirs[field]))
        self.base = {f: (theirs[f] if mine[f] == self.base[f] else self.base[f]) for f in PLANNING_FIELDS}

    async def save(self) -> None:
        view = self.view
        case = view.case
        for _ in range(3):
            mine = self.values()  # again each time: a live update may have filled in fields meanwhile
            theirs = planning_of(case, view.frame.acting_unit)
            clashes = [f for f in PLANNING_FIELDS
                       if theirs[f] != self.base[f] and mine[f] != self.base[f] and mine[f] != theirs[f]]
            if clashes:
                self._show_conflict(theirs, clashes)
                view.show(case)
                return
            merged = {f: (mine[f] if mine[f] != self.base[f] else theirs[f]) for f in PLANNING_FIELDS}
            try:
                token = await view.frame.fresh_token()
                result: Json = await view.frame.api.action(token, case["id"], "planning",
                                                           {"expected_version": case["version"], **merged},
                                                           acting_unit=view.frame.acting_unit)
            except ApiError as exc:
                if exc.stale and exc.current is not None:
                    case = exc.current  # changed elsewhere: merge per field on the new version
                    continue
                ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
                return
            self.base = planning_of(result, view.frame.acting_unit)
            if view.frame.acting_unit is not None:
                view.frame.live.apply_result(result, view.frame.acting_unit)
            for field in PLANNING_FIELDS:
                self.conflicts[field].set_visibility(False)
                value = self.base[field]
                if self.inputs[field].value != value:
                    self.inputs[field].set_value(list(value) if field == "expected_needs" else value)
            self.notice.set_visibility(False)
            self.saved.set_text(f"Sparat {fmt.date_time(result.get('planning') and _updated(result, view))}")
            view.show(result)
            return
        ui.notify("Ärendet ändras hela tiden just nu. Försök spara igen om en stund.", type="warning")

    def _show_conflict(self, theirs: dict[str, Any], clashes: list[str]) -> None:
        self.notice.set_text("Någon annan har ändrat detta medan du skrev. Här är det nya läget; din text finns "
                             "kvar i fälten. Välj vad som ska gälla och spara igen.")
        self.notice.set_visibility(True)
        for field in clashes:
            value = theirs[field]
            shown = ", ".join(fmt.NEEDS.get(v, v) for v in value) if field == "expected_needs" else value
            self.conflicts[field].set_text(f"Sparat av någon annan: {shown or '(tomt)'}")
            self.conflicts[field].set_visibility(True)
        self.base = {**self.base, **{f: theirs[f] for f in clashes}}  # the next save overwrites knowingly
        ui.notify("Någon annan har ändrat planeringsunderlaget. Se det nya läget – din text finns kvar.",
                  type="warning", position="top", close_button="Stäng", timeout=10000)


def _updated(case: Json, view: CaseView) -> str | None:
    form = next((p for p in case.get("planning", []) if p["unit_id"] == view.frame.acting_unit), None)
    return form["updated_at"] if form else None


def people_of(case: Json) -> set[str]:
    """The users the case view names: timeline actors, planning editors, the named care contact."""
    ids = {e["user_id"] for e in case["timeline"]} | {p.get("updated_by_user_id") or "" for p in
                                                      case.get("planning", [])}
    if case.get("named_care_contact_user_id"):
        ids.add(case["named_care_contact_user_id"])
    return ids


class CaseView(LiveView):
    def __init__(self, frame: Frame, case: Json) -> None:
        self.frame = frame
        self.unit_id = None  # the case may come through any of the user's units
        self.case = case
        self.editor: PlanningEditor | None = None

    @property
    def case_id(self) -> str:
        return str(self.case["id"])

    def build(self) -> None:
        self.header()
        self.presence_label = ui.html("", sanitize=False).props('aria-live="polite"')
        self.show_presence(self.frame.live.viewers.get(self.case_id, []))
        self.actions_row()
        with ui.row().classes("w-full gap-4 items-start flex-wrap"):
            with ui.card().classes("min-w-[22rem] flex-1").props('role="region" aria-label="Tidsfrister"'):
                ui.label("Tidsfrister").classes("text-lg font-bold").props('role="heading" aria-level="2"')
                self.deadlines = Countdown(self.case["deadlines"], on_change=lambda kind, old, new:
                                           self.frame.deadline_changed(self.case, kind, new))
            with ui.card().classes("min-w-[22rem] flex-1").props('role="region" aria-label="Betalningsansvar"'):
                ui.label("Betalningsansvar").classes("text-lg font-bold").props('role="heading" aria-level="2"')
                self.payment()
        with ui.card().classes("w-full").props('role="region" aria-label="Deltagande enheter"'):
            ui.label("Deltagande enheter och kvittenser").classes("text-lg font-bold").props(
                'role="heading" aria-level="2"')
            self.participants()
        ui.label("Planering").classes("text-xl font-bold mt-2").props('role="heading" aria-level="2"')
        if self.case["state"] in ("planning", "ready_for_discharge") and self.frame.acting_unit in [
                p["unit_id"] for p in self.case["participants"] if p["status"] == "active"]:
            self.editor = PlanningEditor(self)
        self.other_planning()
        if self.frame.is_ward and self.case["state"] in ("admitted", "planning", "ready_for_discharge"):
            self.home_readiness()
        with ui.card().classes("w-full").props('role="region" aria-label="Händelser"'):
            ui.label("Händelser").classes("text-lg font-bold").props('role="heading" aria-level="2"')
            self.timeline()

    @ui.refreshable_method
    def header(self) -> None:
        case = self.case
        patient = case["patient"]
        with ui.card().classes("w-full").props('role="region" aria-label="Patient"'):
            with ui.row().classes("items-center gap-4"):
                ui.label(patient["name"]).classes("text-2xl font-bold").props('role="heading" aria-level="1"')
                ui.html(cells.state_html(case), sanitize=False)
            with ui.row().classes("gap-6 flex-wrap"):
                _fact("Personnummer", patient["identity"])
                if patient.get("protected_identity"):
                    _fact("Adress", "Skyddad identitet – visas inte")
                else:
                    _fact("Adress", patient.get("address") or "–")
                _fact("Kommun", str(patient.get("municipality_code") or "–"))
                _fact("Vårdform", fmt.CARE_TYPES.get(case["care_type"], str(case["care_type"])))
                _fact("Inskriven", fmt.date_time(case["admitted_at"]))
                _fact("Beräknad utskrivning", fmt.date_time(case.get("estimated_discharge_at")))
                _fact("Utskrivningsklar", fmt.date_time(case.get("ready_for_discharge_at")))
                contact = case.get("named_care_contact_user_id")
                _fact("Fast vårdkontakt", self.frame.hub.person_name(contact) if contact else "Inte utsedd")
                _fact("SIP", "Ja" if case.get("sip_applies") else "Nej")

    @ui.refreshable_method
    def actions_row(self) -> None:
        with ui.row().classes("gap-2 flex-wrap").props('role="toolbar" aria-label="Åtgärder"'):
            for action in actions_for(self.case, self.frame):
                ui.button(action.label, icon=action.icon or None,
                          on_click=lambda a=action: self.run(a)).props(
                    "no-caps " + ("color=negative outline" if action.danger else "color=primary"))

    @ui.refreshable_method
    def payment(self) -> None:
        pay = self.case["payment"]
        if pay["liable"]:
            ui.label(f"Kommunen är betalningsansvarig från {fmt.day(pay['liability_starts_on'])}.")
        elif pay.get("reasons_not_liable"):
            reasons = ", ".join(fmt.NOT_LIABLE.get(r, r) for r in pay["reasons_not_liable"])
            ui.label(f"Inget betalningsansvar: {reasons}.")
        with ui.row().classes("gap-6"):
            _fact("Dag 0", fmt.day(pay.get("day_zero")))
            _fact("Dagar som utskrivningsklar", str(pay["days_ready"]))
            _fact("Betalningsdagar", str(pay["liable_days"]))
            _fact("Belopp", fmt.money(pay.get("amount_sek")))

    @ui.refreshable_method
    def participants(self) -> None:
        with ui.element("div").classes("w-full").props('role="table" aria-label="Deltagande enheter"'):
            grid = "grid-template-columns: 2fr 1fr 1fr 2fr"
            with ui.element("div").classes("sp-grid sp-row font-bold").style(grid).props('role="row"'):
                for title in ("Enhet", "Roll", "Status", "Kvittens"):
                    ui.label(title).props('role="columnheader"')
            for p in self.case["participants"]:
                with ui.element("div").classes("sp-grid sp-row").style(grid).props('role="row"'):
                    ui.label(p["unit_name"]).props('role="cell"')
                    ui.label(fmt.PARTS.get(p["part"], p["part"])).props('role="cell"')
                    ui.label(fmt.PARTICIPANT_STATUS.get(p["status"], p["status"])).props('role="cell"')
                    waiting = unacknowledged_for(self.case, p["unit_id"])
                    text = "–" if p["part"] == "inpatient_unit" else (
                        f"{len(waiting)} okvitterade" if waiting else "Allt kvitterat ✓")
                    ui.label(text).props('role="cell"').classes("sp-at_risk" if waiting else "")

    @ui.refreshable_method
    def other_planning(self) -> None:
        names = {p["unit_id"]: p["unit_name"] for p in self.case["participants"]}
        others = [p for p in self.case.get("planning", []) if p["unit_id"] != self.frame.acting_unit]
        if not others:
            ui.label("Inga andra enheter har sparat planeringsunderlag än.").classes("sp-muted")
        for form in others:
            region = f'role="region" aria-label="Planering {cells.escape(names.get(form["unit_id"], ""))}"'
            with ui.card().classes("w-full").props(region):
                ui.label(f"Planeringsunderlag – {names.get(form['unit_id'], 'Okänd enhet')}").classes(
                    "font-bold").props('role="heading" aria-level="3"')
                needs = ", ".join(fmt.NEEDS.get(n, n) for n in form["expected_needs"]) or "–"
                _fact("Förväntade behov", needs)
                for field, label in TEXT_FIELDS.items():
                    if form.get(field):
                        _fact(label, form[field])
                ui.label(f"Senast ändrat {fmt.date_time(form.get('updated_at'))} av "
                         f"{self.frame.hub.person_name(form.get('updated_by_user_id'))}").classes("sp-muted")

    @ui.refreshable_method
    def home_readiness(self) -> None:
        current = self.case.get("home_readiness", {})
        with ui.card().classes("w-full").props('role="region" aria-label="Hemgångsklar"'):
            ui.label("Hemgångsklar").classes("text-lg font-bold").props('role="heading" aria-level="2"')
            boxes = {k: ui.checkbox(label, value=bool(current.get(k))) for k, label in fmt.HOME_READINESS.items()}

            async def save() -> None:
                from ui.components.actions import Action

                action = Action("home", "Spara hemgångsklar", "home-readiness")
                await perform(self.frame, self.case, action, on_result=self.show,
                              body={k: bool(b.value) for k, b in boxes.items()})

            ui.button("Spara hemgångsklar", icon="save", on_click=save).props("no-caps outline")

    @ui.refreshable_method
    def timeline(self) -> None:
        hub = self.frame.hub
        names = {p["unit_id"]: p["unit_name"] for p in self.case["participants"]}
        with ui.element("ol").classes("w-full").props('aria-label="Tidslinje"'):
            for entry in reversed(self.case["timeline"]):
                detail = entry.get("detail") or ""
                if entry["action"] == "estimated_discharge_changed" and detail:
                    detail = fmt.date_time(detail)
                elif entry["action"] == "rejected":
                    detail = fmt.REJECTION_REASONS.get(detail, detail)
                elif entry["action"] == "interrupted":
                    detail = fmt.INTERRUPTION_REASONS.get(detail, detail)
                text = fmt.TIMELINE.get(entry["action"], entry["action"])
                unit = names.get(entry["unit_id"]) or hub.unit_name(entry["unit_id"])
                who = f"{hub.person_name(entry['user_id'])}, {unit}"
                with ui.element("li").classes("sp-row"):
                    ui.html(f'<span class="sp-muted">{cells.escape(fmt.date_time(entry["at"]))}</span> '
                            f'<span class="font-bold">{cells.escape(text)}</span>'
                            f'{" – " + cells.escape(detail) if detail else ""} '
                            f'<span class="sp-muted">({cells.escape(who)})</span>', sanitize=False)

    # ----- live -------------------------------------------------------------------------------------------------

    def show(self, case: Json) -> None:
        """Show a (newer) state of the case in every read-only section; the user's form keeps their text."""
        if case is self.case or case["version"] < self.case["version"]:
            return  # an older state, or this one again (an action's answer reaches `show` twice)
        self.case = case
        background_tasks.create(self._names_then_refresh(), name="case-refresh")

    async def _names_then_refresh(self) -> None:
        await self.frame.hub.load_people(self.frame.token, people_of(self.case))
        self.header.refresh()
        self.actions_row.refresh()
        self.deadlines.set_deadlines(self.case["deadlines"])
        self.payment.refresh()
        self.participants.refresh()
        self.other_planning.refresh()
        self.timeline.refresh()
        if self.editor is not None:
            self.editor.refresh_from(self.case)

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        if case_id != self.case_id:
            return
        if case is None:
            ui.notify("Ärendet är inte längre synligt för din enhet.", type="warning")
            return
        self.show(case)

    def presence(self, case_id: str, viewers: list[Viewer]) -> None:
        if case_id == self.case_id:
            self.frame.with_people({v.user_id for v in viewers}, lambda: self.show_presence(viewers))

    def show_presence(self, viewers: list[Viewer]) -> None:
        content = cells.presence_html(viewers, self.frame.user_id, self.frame.hub)
        self.presence_label.set_content(f'<div class="font-bold">Tittar på ärendet nu:</div>{content}'
                                        if content else "")

    async def run(self, action: Any) -> None:
        await perform(self.frame, self.case, action, on_result=self.show)


def _fact(label: str, value: str) -> None:
    with ui.element("div"):
        ui.label(label).classes("text-xs sp-muted")
        ui.label(value)


async def case_page(case_id: str) -> RedirectResponse | None:
    path = f"/arende/{case_id}"
    frame = await page_frame(path, "Ärende")
    if not isinstance(frame, Frame):
        return frame
    with ui.element("main").props('id="sp-main" tabindex="-1"').classes("w-full p-4 gap-3 flex flex-col"):
        ui.link("← Tillbaka", "/").classes("text-blue-10")
        try:
            token = await frame.fresh_token()
            case = await frame.api.get_case(token, case_id, frame.acting_unit)
        except ApiError as exc:
            ui.label(exc.message).props('role="alert"').classes("text-lg")
            return None
        await frame.hub.load_people(token, people_of(case))
        view = CaseView(frame, case)
        frame.watch(view)
        view.build()
        await frame.live.viewing(case_id)
        frame.client.on_delete(lambda: background_tasks.create(frame.live.left(case_id), name="presence-left"))
        # A change that landed between the read and the watch: fetch once more through the hub (coalesced).
        frame.live.refresh(case_id, frame.acting_unit or "", case["version"] + 1)
    frame.finish()
    return None
