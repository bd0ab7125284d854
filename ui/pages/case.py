"""The case view (ärendevy): patient header, needs, participating units, deadlines, payment liability with its
facts, planning forms, home-ready checklist, timeline, presence and the actions.

Sections change only when their content does: read-only sections are HTML rendered from the case and sent to the
browser only when the string differs (`HtmlSection`); sections with controls (the actions, the participants with
their buttons) are rebuilt only when the data they show changes (`KeyedSection`); forms (this unit's planning
form, the liability facts, the home-ready checklist) are never rebuilt: a field the user has not touched takes the
new value, a touched one keeps what the user typed.

The planning form is saved per field (`POST /cases/{id}/planning/fields`): only the fields the user changed are
sent, each with the revision it was read at, so edits of other fields, other units' forms or any other action on
the case never conflict. When someone else saved the same field meanwhile, the API answers 409 `field_conflict`:
the user's text stays in the field, the value that holds now is shown beside it, and the field takes the current
revision, so the next save overwrites knowingly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import background_tasks, ui

from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells
from ui.components.actions import (
    ADD_PARTICIPANT,
    HOME_READINESS,
    LIABILITY_FACTS,
    NEEDS_IDENTIFIED,
    REMOVE_PARTICIPANT,
    UPDATE_PLANNING,
    Action,
    actions_for,
    may,
    perform,
)
from ui.components.admin_table import UNIT_KINDS
from ui.components.case_sip import CaseSip
from ui.components.cells import escape
from ui.components.countdown import Countdown
from ui.components.sections import HtmlSection, KeyedSection, facts_html
from ui.frame import Frame, page_frame
from ui.live import LiveView, unacknowledged_for
from ui.merge import Merge, merge

TEXT_FIELDS = {
    "current_services": "Nuvarande insatser",
    "aids": "Hjälpmedel",
    "medication_handover": "Läkemedelsöverlämning",
    "adl": "ADL (förmåga i dagliga aktiviteter)",
    "notes": "Övrigt",
}
PLANNING_FIELDS = ("current_services", "expected_needs", "aids", "medication_handover", "adl", "notes")
NEEDS_LABEL = "Förväntade behov efter utskrivning"
LIABILITY_FACT_LABELS = {
    "patient_refused_services": "Patienten har tackat nej till erbjudna insatser",
    "outpatient_services_missing": "Regionens öppenvårdsinsatser saknas",
}


def _norm(field: str, value: Any) -> Any:
    """A planning value in the form the editor compares: need flags sorted, text as typed (None as empty)."""
    if field == "expected_needs":
        return sorted(value or [])
    return value or ""


def form_of(case: Json, unit_id: str | None) -> Json | None:
    return next((p for p in case.get("planning", []) if p["unit_id"] == unit_id), None)


def planning_of(case: Json, unit_id: str | None) -> dict[str, Any]:
    form = form_of(case, unit_id) or {}
    return {f: _norm(f, form.get(f)) for f in PLANNING_FIELDS}


def revisions_of(case: Json, unit_id: str | None) -> dict[str, int]:
    revisions = (form_of(case, unit_id) or {}).get("revisions") or {}
    return {f: int(revisions.get(f, 0)) for f in PLANNING_FIELDS}


def shown(field: str, value: Any) -> str:
    if field == "expected_needs":
        return ", ".join(fmt.NEEDS.get(v, v) for v in value) or "(inga)"
    return str(value) or "(tomt)"


class PlanningEditor:
    """This unit's planning form: the user's text is never overwritten by a live update or a conflict."""

    def __init__(self, view: CaseView) -> None:
        self.view = view
        unit = view.frame.acting_unit
        self.base = planning_of(view.case, unit)  # each field as last read from the API ...
        self.revisions = revisions_of(view.case, unit)  # ... and the revision it had then
        self.inputs: dict[str, Any] = {}
        self.conflicts: dict[str, ui.label] = {}
        self.saving = False
        with ui.card().classes("w-full").props('role="region" aria-label="Vårt planeringsunderlag"'):
            ui.label("Vårt planeringsunderlag").classes("text-lg font-bold").props('role="heading" aria-level="3"')
            self.notice = ui.label("").classes("sp-at_risk").props('role="status"').mark("planning-notice")
            self.notice.set_visibility(False)
            needs = ui.select(fmt.NEEDS, multiple=True, value=list(self.base["expected_needs"]),
                              label=NEEDS_LABEL).props("use-chips outlined").classes("w-full")
            self._track(needs, "expected_needs")
            self.inputs["expected_needs"] = needs
            self.conflicts["expected_needs"] = self._conflict_label("expected_needs")
            for field, label in TEXT_FIELDS.items():
                area = ui.textarea(label, value=self.base[field]).props("outlined autogrow").classes("w-full")
                self._track(area, field)
                self.inputs[field] = area
                self.conflicts[field] = self._conflict_label(field)
            with ui.row().classes("gap-2"):
                self.save_button = ui.button("Spara planeringsunderlag", icon="save", on_click=self.save).props(
                    "no-caps color=primary")
            self.saved = ui.label("").classes("sp-muted").props('role="status"')

    @staticmethod
    def _conflict_label(field: str) -> ui.label:
        label = ui.label("").classes("sp-at_risk whitespace-pre-wrap").mark(f"conflict-{field}")
        label.set_visibility(False)
        return label

    def _track(self, element: Any, field: str) -> None:
        live = self.view.frame.live
        case_id = self.view.case_id
        element.on("focus", lambda: background_tasks.create(live.editing(case_id, field), name="presence"))
        element.on("blur", lambda: background_tasks.create(live.editing(case_id, None), name="presence"))

    def values(self) -> dict[str, Any]:
        return {f: _norm(f, self.inputs[f].value) for f in PLANNING_FIELDS}

    def _set(self, field: str, value: Any) -> None:
        self.inputs[field].set_value(list(value) if field == "expected_needs" else value)

    def _show_theirs(self, field: str, value: Any) -> None:
        self.conflicts[field].set_text(f"Sparat av någon annan: {shown(field, value)}")
        self.conflicts[field].set_visibility(True)

    def _clear(self, field: str) -> None:
        if self.conflicts[field].visible:
            self.conflicts[field].set_visibility(False)

    def refresh_from(self, case: Json) -> None:
        """A live change: a field whose revision moved takes the new value where the user has not typed; where they
        have, their text stays and the other value is shown beside it (its revision stays the one they read, so
        saving it gets the conflict instead of overwriting unseen)."""
        unit = self.view.frame.acting_unit
        theirs, revisions, mine = planning_of(case, unit), revisions_of(case, unit), self.values()
        for field in PLANNING_FIELDS:
            if revisions[field] == self.revisions[field] and theirs[field] == self.base[field]:
                continue
            merged = merge(self.base[field], mine[field], theirs[field])
            if merged.takes_theirs:
                if merged is Merge.TAKE_THEIRS:
                    self._set(field, theirs[field])
                self.base[field], self.revisions[field] = theirs[field], revisions[field]
                self._clear(field)
            else:  # a conflict, or the user's change while the revision moved (a save would be answered 409)
                self._show_theirs(field, theirs[field])

    async def save(self) -> None:
        if self.saving:
            return  # one save at a time (a second click would send the same revisions again)
        self.saving = True
        try:
            await self._save()
        finally:
            self.saving = False

    async def _save(self) -> None:
        view = self.view
        unit = view.frame.acting_unit
        mine = self.values()
        changed = [f for f in PLANNING_FIELDS if mine[f] != self.base[f]]
        if not changed:
            self.saved.set_text("Inga ändringar att spara.")
            return
        body = {"fields": {f: {"value": mine[f], "expected_revision": self.revisions[f]} for f in changed}}
        try:
            token = await view.frame.fresh_token()
            result: Json = await view.frame.api.action(token, view.case_id, "planning/fields", body, acting_unit=unit)
        except ApiError as exc:
            if exc.status == 409 and exc.code == "field_conflict":
                self.conflicted(exc.problem)
                return
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        theirs, revisions, now_typed = planning_of(result, unit), revisions_of(result, unit), self.values()
        for field in changed:
            self.base[field], self.revisions[field] = theirs[field], revisions[field]
            self._clear(field)
            if now_typed[field] == mine[field] != theirs[field]:  # not typed on since; the server's form of it
                self._set(field, theirs[field])
        self.notice.set_visibility(False)
        self.saved.set_text(f"Sparat {fmt.date_time((form_of(result, unit) or {}).get('updated_at'))}")
        if view.case["version"] > result["version"]:
            # A newer case arrived (live) while the save waited for its answer, and was applied to the editor
            # already; the answer above just set the saved fields back to this older state. Apply the newer case
            # again: a field someone changed after this save takes its value, or shows it beside the user's text.
            self.refresh_from(view.case)
        if unit is not None:
            view.frame.live.apply_result(result, unit)  # all the user's tabs; no fetch for its event
        view.show(result)  # ignored when the view already shows a newer case

    def conflicted(self, problem: Mapping[str, Any]) -> None:
        """409 `field_conflict`: someone else saved these fields since they were read. Show the value that holds
        now beside the user's text and take its revision: the next save overwrites knowingly."""
        clashes = problem.get("conflicts") or [problem]
        for clash in clashes:
            field = str(clash.get("field"))
            if field not in self.inputs:
                continue
            value = _norm(field, clash.get("current_value"))
            self.base[field], self.revisions[field] = value, int(clash.get("current_revision") or 0)
            self._show_theirs(field, value)
        self.notice.set_text("Någon annan har ändrat detta medan du skrev. Här är det som gäller nu; din text finns "
                             "kvar i fälten. Välj vad som ska gälla och spara igen.")
        self.notice.set_visibility(True)
        ui.notify("Någon annan har ändrat planeringsunderlaget. Se det nya läget – din text finns kvar.",
                  type="warning", position="top", close_button="Stäng", timeout=10000)


class Checklist:
    """Checkboxes saved together by one action (the liability facts, the home-ready checklist). A change elsewhere
    updates only the boxes the user has not touched."""

    def __init__(self, view: CaseView, labels: Mapping[str, str], read: Callable[[Json], dict[str, bool]],
                 action: Action) -> None:
        self.view = view
        self.read = read
        self.action = action
        self.base = read(view.case)
        self.boxes = {k: ui.checkbox(label, value=self.base[k]) for k, label in labels.items()}
        ui.button(action.label, icon="save", on_click=self.save).props("no-caps outline")

    def values(self) -> dict[str, bool]:
        return {k: bool(b.value) for k, b in self.boxes.items()}

    def refresh_from(self, case: Json) -> None:
        theirs, mine = self.read(case), self.values()
        for key, box in self.boxes.items():
            if mine[key] == self.base[key]:
                if theirs[key] != mine[key]:
                    box.set_value(theirs[key])
                self.base[key] = theirs[key]

    async def save(self) -> None:
        result = await perform(self.view.frame, self.view.case, self.action, on_result=self.view.show,
                               body=self.values())
        if result is not None:
            self.base = self.read(result)


def liability_facts(case: Json) -> dict[str, bool]:
    return {k: bool(case.get(k)) for k in LIABILITY_FACT_LABELS}


def home_readiness(case: Json) -> dict[str, bool]:
    current = case.get("home_readiness") or {}
    return {k: bool(current.get(k)) for k in fmt.HOME_READINESS}


def people_of(case: Json) -> set[str]:
    """The users the case view names: timeline actors, planning editors, the named care contact."""
    ids = {e["user_id"] for e in case["timeline"]} | {p.get("updated_by_user_id") or "" for p in
                                                      case.get("planning", [])}
    if case.get("named_care_contact_user_id"):
        ids.add(case["named_care_contact_user_id"])
    return ids


def _card(label: str) -> ui.card:
    return ui.card().classes("w-full").props(f'role="region" aria-label="{escape(label)}"')


def _heading(text: str, level: int = 2) -> None:
    size = "text-lg" if level == 2 else "font-bold"
    ui.label(text).classes(f"{size} font-bold").props(f'role="heading" aria-level="{level}"')


class CaseView(LiveView):
    def __init__(self, frame: Frame, case: Json) -> None:
        self.frame = frame
        self.unit_id = None  # the case may come through any of the user's units
        self.case = case
        self.editor: PlanningEditor | None = None
        self.liability_form: Checklist | None = None
        self.home_form: Checklist | None = None
        self.sections: list[HtmlSection | KeyedSection] = []

    @property
    def case_id(self) -> str:
        return str(self.case["id"])

    # ----- who may do what: what the API allows the acting unit (`allowed_actions`), never worked out here ------

    def manages_participants(self) -> bool:
        """The unit adds and removes receiving units (the ward, while the case is open)."""
        return may(self.case, ADD_PARTICIPANT)

    def plans(self) -> bool:
        return may(self.case, UPDATE_PLANNING)

    def records_liability_facts(self) -> bool:
        return may(self.case, LIABILITY_FACTS)

    def checks_home_readiness(self) -> bool:
        return may(self.case, HOME_READINESS)

    def actions(self) -> list[Action]:
        return actions_for(self.case) + [a for a in (NEEDS_IDENTIFIED,) if may(self.case, a)]

    # ----- build ------------------------------------------------------------------------------------------------

    def _html(self, render: Callable[[], str], marker: str) -> HtmlSection:
        section = HtmlSection(render)
        section.element.mark(marker)
        self.sections.append(section)
        return section

    def _keyed(self, key: Callable[[], object], build: Callable[[], None]) -> KeyedSection:
        section = KeyedSection(key, build)
        self.sections.append(section)
        return section

    def build(self) -> None:
        with _card("Patient"):
            self._html(self.header_html, "case-header")
        self.presence_label = ui.html("", sanitize=False).props('aria-live="polite"')
        self.show_presence(self.frame.live.viewers.get(self.case_id, []))
        self._keyed(lambda: tuple(a.key for a in self.actions()), self.actions_row)
        self.sip = CaseSip(self.frame, self.case)
        background_tasks.create(self.sip.load(), name="case-sip")
        with ui.row().classes("w-full gap-4 items-start flex-wrap"):
            with ui.card().classes("min-w-[22rem] flex-1").props('role="region" aria-label="Tidsfrister"'):
                _heading("Tidsfrister")
                self.deadlines = Countdown(self.case["deadlines"], on_change=lambda kind, old, new:
                                           self.frame.deadline_changed(self.case, kind, new))
            with ui.card().classes("min-w-[22rem] flex-1").props('role="region" aria-label="Betalningsansvar"'):
                _heading("Betalningsansvar")
                self._html(self.payment_html, "case-payment")
                self._keyed(self.records_liability_facts, self.liability_section)
        with _card("Behov"):
            _heading("Behov")
            self._html(self.needs_html, "case-needs")
        with _card("Deltagande enheter"):
            _heading("Deltagande enheter och kvittenser")
            self._keyed(self.participants_key, self.participants)
        ui.label("Planering").classes("text-xl font-bold mt-2").props('role="heading" aria-level="2"')
        # Built once planning is possible; then kept, so a change of state never takes away what the user typed.
        self._keyed(lambda: self.plans() or self.editor is not None, self.planning_section)
        self._html(self.other_planning_html, "case-other-planning")
        self._keyed(self.checks_home_readiness, self.home_section)
        with _card("Händelser"):
            _heading("Händelser")
            self._html(self.timeline_html, "case-timeline")

    def actions_row(self) -> None:
        with ui.row().classes("gap-2 flex-wrap").props('role="toolbar" aria-label="Åtgärder"'):
            for action in self.actions():
                ui.button(action.label, icon=action.icon or None,
                          on_click=lambda a=action: self.run(a)).props(
                    "no-caps " + ("color=negative outline" if action.danger else "color=primary"))

    def planning_section(self) -> None:
        if self.plans():
            self.editor = PlanningEditor(self)

    def liability_section(self) -> None:
        self.liability_form = None
        if self.records_liability_facts():
            ui.label("Uppgifter som avgör betalningsansvaret").classes("text-xs sp-muted mt-2")
            self.liability_form = Checklist(self, LIABILITY_FACT_LABELS, liability_facts, LIABILITY_FACTS)

    def home_section(self) -> None:
        self.home_form = None
        if self.checks_home_readiness():
            with _card("Hemgångsklar"):
                _heading("Hemgångsklar")
                self.home_form = Checklist(self, fmt.HOME_READINESS, home_readiness, HOME_READINESS)

    # ----- read-only sections: HTML from the case -------------------------------------------------------------

    def header_html(self) -> str:
        case = self.case
        patient = case["patient"]
        if patient.get("masked", patient.get("protected_identity")):  # withheld from this user
            address = "Skyddad identitet – visas inte"
        else:
            address = patient.get("address") or "–"
        contact = case.get("named_care_contact_user_id")
        facts = [
            ("Personnummer", patient["identity"]), ("Adress", address),
            ("Kommun", str(patient.get("municipality_code") or "–")),
            ("Vårdform", fmt.CARE_TYPES.get(case["care_type"], str(case["care_type"]))),
            ("Inskriven", fmt.date_time(case["admitted_at"])),
            ("Beräknad utskrivning", fmt.date_time(case.get("estimated_discharge_at"))),
            ("Utskrivningsklar", fmt.date_time(case.get("ready_for_discharge_at"))),
            ("Fast vårdkontakt", self.frame.hub.person_name(contact) if contact else "Inte utsedd"),
            ("SIP", "Ja" if case.get("sip_applies") else "Nej"),
        ]
        return (f'<div class="flex items-center gap-4 mb-2"><h1 class="text-2xl font-bold m-0">'
                f'{escape(patient["name"])}</h1>{cells.state_html(case)}</div>{facts_html(facts)}')

    def payment_html(self) -> str:
        pay = self.case["payment"]
        starts = fmt.day(pay.get("liability_starts_on"))
        if pay["liable"]:
            status = f"Kommunen är betalningsansvarig från {starts}."
        elif pay.get("reasons_not_liable"):
            reasons = ", ".join(fmt.NOT_LIABLE.get(r, r) for r in pay["reasons_not_liable"])
            status = f"Inget betalningsansvar: {reasons}."
        elif pay.get("liability_starts_on"):
            status = f"Kommunens betalningsansvar börjar {starts} om patienten är kvar då."
        else:
            status = "Inget betalningsansvar: patienten är inte utskrivningsklar."
        facts = [("Dag 0", fmt.day(pay.get("day_zero"))), ("Betalningsansvar från", starts),
                 ("Dagar som utskrivningsklar", str(pay["days_ready"])),
                 ("Betalningsdagar hittills", str(pay["liable_days"])),
                 ("Belopp hittills", fmt.money(pay.get("amount_sek")))]
        if pay.get("missing_amount_years"):
            years = ", ".join(str(y) for y in pay["missing_amount_years"])
            facts.append(("Dagbelopp saknas för", years))
        if not self.records_liability_facts():  # otherwise the form shows them
            facts += [(label, "Ja" if self.case.get(key) else "Nej") for key, label in LIABILITY_FACT_LABELS.items()]
        return f'<p class="m-0 mb-2">{escape(status)}</p>{facts_html(facts)}'

    def needs_html(self) -> str:
        case = self.case
        identified = case.get("needs_identified_at")
        when = fmt.date_time(identified) if identified else \
            f"Vid inskrivningen ({fmt.date_time(case['admitted_at'])})"
        names = {p["unit_id"]: p["unit_name"] for p in case["participants"]}
        flagged: dict[str, list[str]] = {}
        for form in case.get("planning", []):
            for need in form.get("expected_needs", []):
                flagged.setdefault(need, []).append(names.get(form["unit_id"], "Okänd enhet"))
        order = list(fmt.NEEDS)
        items = "".join(
            f'<li>{escape(fmt.NEEDS.get(need, need))} <span class="sp-muted">({escape(", ".join(units))})</span></li>'
            for need, units in sorted(flagged.items(), key=lambda i: order.index(i[0]) if i[0] in order else 99))
        needs = f'<ul class="m-0 pl-5">{items}</ul>' if items else \
            '<p class="m-0 sp-muted">Inga behov markerade i planeringsunderlagen än.</p>'
        return (f'{facts_html([("Behov identifierade", when)])}'
                f'<div class="text-xs sp-muted mt-2">{escape(NEEDS_LABEL)} (markerade i planeringsunderlagen)</div>'
                f'{needs}')

    def other_planning_html(self) -> str:
        names = {p["unit_id"]: p["unit_name"] for p in self.case["participants"]}
        others = [p for p in self.case.get("planning", []) if p["unit_id"] != self.frame.acting_unit]
        if not others:
            return '<p class="sp-muted">Inga andra enheter har sparat planeringsunderlag än.</p>'
        parts = []
        for form in others:
            unit = names.get(form["unit_id"], "Okänd enhet")
            facts = [("Förväntade behov", ", ".join(fmt.NEEDS.get(n, n) for n in form["expected_needs"]) or "–")]
            facts += [(label, form[field]) for field, label in TEXT_FIELDS.items() if form.get(field)]
            who = self.frame.hub.person_name(form.get("updated_by_user_id"))
            parts.append(
                f'<section class="rounded-md border border-gray-300 p-3 mb-2" aria-label="Planering {escape(unit)}">'
                f'<h3 class="font-bold m-0 mb-1">Planeringsunderlag – {escape(unit)}</h3>'
                f'{facts_html(facts, extra_class="whitespace-pre-wrap")}'
                f'<p class="sp-muted m-0 mt-1">Senast ändrat {escape(fmt.date_time(form.get("updated_at")))} av '
                f'{escape(who)}</p></section>')
        return "".join(parts)

    def timeline_html(self) -> str:
        hub = self.frame.hub
        names = {p["unit_id"]: p["unit_name"] for p in self.case["participants"]}
        items = []
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
            items.append(f'<li class="sp-row"><span class="sp-muted">{escape(fmt.date_time(entry["at"]))}</span> '
                         f'<span class="font-bold">{escape(text)}</span>'
                         f'{" – " + escape(detail) if detail else ""} '
                         f'<span class="sp-muted">({escape(who)})</span></li>')
        return f'<ol class="w-full m-0 p-0 list-none" aria-label="Tidslinje">{"".join(items)}</ol>'

    # ----- participants ---------------------------------------------------------------------------------------

    def participants_key(self) -> object:
        rows = tuple((p["unit_id"], p["unit_name"], p["part"], p["status"],
                      len(unacknowledged_for(self.case, p["unit_id"])), self.case["state"] == "admitted")
                     for p in self.case["participants"])
        return rows, self.manages_participants()

    def participants(self) -> None:
        manage = self.manages_participants()
        columns = ("Enhet", "Roll", "Status", "Kvittens", *(("Åtgärd",) if manage else ()))
        grid = "grid-template-columns: 2fr 1fr 1fr 2fr" + (" 9rem" if manage else "")
        with ui.element("div").classes("w-full").props('role="table" aria-label="Deltagande enheter"'):
            with ui.element("div").classes("sp-grid sp-row font-bold").style(grid).props('role="row"'):
                for title in columns:
                    ui.label(title).props('role="columnheader"')
            for p in self.case["participants"]:
                with ui.element("div").classes("sp-grid sp-row").style(grid).props(
                        f'role="row" data-unit="{escape(p["unit_id"])}"'):
                    ui.label(p["unit_name"]).props('role="cell"')
                    ui.label(fmt.PARTS.get(p["part"], p["part"])).props('role="cell"')
                    ui.label(fmt.PARTICIPANT_STATUS.get(p["status"], p["status"])).props('role="cell"')
                    waiting = unacknowledged_for(self.case, p["unit_id"])
                    if p["part"] == "inpatient_unit" or p["status"] != "active":
                        text = "–"
                    elif self.case["state"] == "admitted":
                        text = "Inte skickat än"
                    else:
                        text = f"{len(waiting)} okvitterade" if waiting else "Allt kvitterat ✓"
                    ui.label(text).props('role="cell"').classes("sp-at_risk" if waiting else "")
                    if manage:
                        with ui.element("div").props('role="cell"'):
                            if p["part"] != "inpatient_unit" and p["status"] == "active":
                                ui.button("Ta bort", icon="group_remove",
                                          on_click=lambda u=p["unit_id"], n=p["unit_name"]: self.remove_participant(
                                              u, n)).props(
                                    f'flat dense no-caps color=negative aria-label="Ta bort {escape(p["unit_name"])} '
                                    f'från ärendet"').mark(f"remove-{p['unit_id']}")
        if manage:
            ui.button("Lägg till enhet", icon="group_add", on_click=self.add_participant).props(
                "no-caps outline").classes("mt-2").mark("add-participant")

    async def add_participant(self) -> None:
        frame = self.frame
        try:
            token = await frame.fresh_token()
            units = await frame.api.units(token, receiving=True)  # the units a case can be sent to
        except ApiError as exc:
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        frame.hub.remember_units(units)
        taking_part = {p["unit_id"] for p in self.case["participants"] if p["status"] == "active"}
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
            await perform(frame, self.case, ADD_PARTICIPANT, on_result=self.show, body={"unit_id": unit_id})

    async def remove_participant(self, unit_id: str, name: str) -> None:
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
            await perform(self.frame, self.case, REMOVE_PARTICIPANT, on_result=self.show, body={"unit_id": unit_id})

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
        self.deadlines.set_deadlines(self.case["deadlines"])
        for form in (self.editor, self.liability_form, self.home_form):
            if form is not None:
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
            self.frame.with_people({v.user_id for v in viewers}, lambda: self.show_presence(viewers))

    def show_presence(self, viewers: list[Viewer]) -> None:
        content = cells.presence_html(viewers, self.frame.user_id, self.frame.hub)
        content = f'<div class="font-bold">Tittar på ärendet nu:</div>{content}' if content else ""
        if content != self.presence_label.content:
            self.presence_label.set_content(content)

    async def run(self, action: Action) -> None:
        await perform(self.frame, self.case, action, on_result=self.show)


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
