"""Planning (*planering*): this unit's planning form, saved per field, and the forms the other units saved.

The planning form is saved per field (`POST /cases/{id}/planning/fields`): only the fields the user changed are
sent, each with the revision it was read at, so edits of other fields, other units' forms or any other action on
the case never conflict. When someone else saved the same field meanwhile, the API answers 409 `field_conflict`:
the user's text stays in the field, the value that holds now is shown beside it, and the field takes the current
revision, so the next save overwrites knowingly. The form is never rebuilt: a field the user has not touched takes
a live change (the base/mine/theirs merge of `ui/merge.py`), a touched one keeps what the user typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nicegui import background_tasks, ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.actions import UPDATE_PLANNING, may
from ui.components.cells import escape
from ui.components.sections import facts_html
from ui.merge import Merge, merge
from ui.pages.case.needs import NEEDS_LABEL
from ui.pages.case.parts import CaseHost
from ui.single_flight import one_at_a_time

TEXT_FIELDS = {
    "current_services": "Nuvarande insatser",
    "aids": "Hjälpmedel",
    "medication_handover": "Läkemedelsöverlämning",
    "adl": "ADL (förmåga i dagliga aktiviteter)",
    "notes": "Övrigt",
}
PLANNING_FIELDS = ("current_services", "expected_needs", "aids", "medication_handover", "adl", "notes")


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

    def __init__(self, host: CaseHost) -> None:
        self.host = host
        unit = host.frame.acting_unit
        self.base = planning_of(host.case, unit)  # each field as last read from the API ...
        self.revisions = revisions_of(host.case, unit)  # ... and the revision it had then
        self.inputs: dict[str, Any] = {}
        self.conflicts: dict[str, ui.label] = {}
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
        live = self.host.frame.live
        case_id = self.host.case_id
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
        unit = self.host.frame.acting_unit
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

    @one_at_a_time
    async def save(self) -> None:
        host = self.host
        unit = host.frame.acting_unit
        mine = self.values()
        changed = [f for f in PLANNING_FIELDS if mine[f] != self.base[f]]
        if not changed:
            self.saved.set_text("Inga ändringar att spara.")
            return
        body = {"fields": {f: {"value": mine[f], "expected_revision": self.revisions[f]} for f in changed}}
        try:
            token = await host.frame.fresh_token()
            result: Json = await host.frame.api.action(token, host.case_id, "planning/fields", body, acting_unit=unit)
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
        if host.case["version"] > result["version"]:
            # A newer case arrived (live) while the save waited for its answer, and was applied to the editor
            # already; the answer above just set the saved fields back to this older state. Apply the newer case
            # again: a field someone changed after this save takes its value, or shows it beside the user's text.
            self.refresh_from(host.case)
        if unit is not None:
            host.frame.live.apply_result(result, unit)  # all the user's tabs; no fetch for its event
        host.show(result)  # ignored when the view already shows a newer case

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



class PlanningSection:
    """The heading, this unit's form (built once planning is possible, then kept: a change of state never takes
    away what the user typed) and the other units' forms (read-only)."""

    def __init__(self, host: CaseHost) -> None:
        self.host = host
        self.editor: PlanningEditor | None = None
        ui.label("Planering").classes("text-xl font-bold mt-2").props('role="heading" aria-level="2"')
        host.keyed(lambda: self.plans() or self.editor is not None, self.build)
        host.html(self.others_html, "case-other-planning")

    def plans(self) -> bool:
        return may(self.host.case, UPDATE_PLANNING)

    def build(self) -> None:
        if self.plans():
            self.editor = PlanningEditor(self.host)

    def refresh_from(self, case: Json) -> None:
        if self.editor is not None:
            self.editor.refresh_from(case)

    def others_html(self) -> str:
        case = self.host.case
        names = {p["unit_id"]: p["unit_name"] for p in case["participants"]}
        others = [p for p in case.get("planning", []) if p["unit_id"] != self.host.frame.acting_unit]
        if not others:
            return '<p class="sp-muted">Inga andra enheter har sparat planeringsunderlag än.</p>'
        parts = []
        for form in others:
            unit = names.get(form["unit_id"], "Okänd enhet")
            facts = [("Förväntade behov", ", ".join(fmt.NEEDS.get(n, n) for n in form["expected_needs"]) or "–")]
            facts += [(label, form[field]) for field, label in TEXT_FIELDS.items() if form.get(field)]
            who = self.host.frame.hub.person_name(form.get("updated_by_user_id"))
            parts.append(
                f'<section class="rounded-md border border-gray-300 p-3 mb-2" aria-label="Planering {escape(unit)}">'
                f'<h3 class="font-bold m-0 mb-1">Planeringsunderlag – {escape(unit)}</h3>'
                f'{facts_html(facts, extra_class="whitespace-pre-wrap")}'
                f'<p class="sp-muted m-0 mt-1">Senast ändrat {escape(fmt.date_time(form.get("updated_at")))} av '
                f'{escape(who)}</p></section>')
        return "".join(parts)
