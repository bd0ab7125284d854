"""The agreed versions in the SIP meeting room (*fastställda versioner*): who approved each, its exports (PDF for
the person and the fallback routine, FHIR R4 JSON for other systems) and a comparison of two versions, or of a
version and the working contents (`GET /sip-plans/{id}/diff`).

Exports are fetched by the UI process with the user's token and handed to the browser as a file
(`ui.download.content`): the token never appears in a URL. The list is redrawn when a version is agreed; the
comparison's choices follow in place, and a comparison shown says so when the plan has changed since.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import sip
from ui.components.sections import KeyedSection
from ui.components.sip import sip_message
from ui.pages.sip_room.forms import Room, text

WORKING = "working"
KINDS = {"added": "Tillagt", "removed": "Borttaget", "changed": "Ändrat"}
KIND_CLASS = {"added": "sp-ok", "removed": "sp-overdue", "changed": "sp-at_risk"}
PART_LABELS = {"description": "Beskrivning", "principal_id": "Huvudman", "responsible_unit_id": "Ansvarig enhet",
               "contact_person": "Kontaktperson", "when": "När", "by_whom": "Av vem"}
EXPORTS = {"pdf": ("PDF", "application/pdf", "pdf"), "fhir": ("FHIR (JSON)", "application/fhir+json", "fhir.json")}


class VersionsSection:
    def __init__(self, room: Room) -> None:
        self.room = room
        self._compared: tuple[str, str, int, int] | None = None  # from, to, content revision, version count
        with ui.card().classes("w-full").props('role="region" aria-label="Fastställda versioner"'):
            ui.label("Fastställda versioner").classes("sp-h2").props('role="heading" aria-level="2"')
            self.keyed = KeyedSection(self.key, self.view)
            self.compare_box = ui.column().classes("w-full gap-2").props(
                'role="group" aria-label="Jämför versioner"').mark("compare")
            with self.compare_box:
                ui.label("Jämför versioner").classes("text-xl font-bold").props('role="heading" aria-level="3"')
                with ui.row().classes("gap-2 items-center flex-wrap"):
                    self.from_select = ui.select({}, label="Från version").props("outlined").classes(
                        "min-w-[12rem]").mark("diff-from")
                    self.to_select = ui.select({}, label="Till version").props("outlined").classes(
                        "min-w-[16rem]").mark("diff-to")
                    ui.button("Jämför", icon="compare_arrows", on_click=self.compare).props(
                        "no-caps color=primary size=lg").mark("compare-versions")
                self.stale = ui.label("").classes("sp-at_risk").props('role="status"').mark("diff-stale")
                self.result = ui.column().classes("w-full gap-1").props('aria-live="polite"').mark("diff-result")
        self._follow_choices()

    def key(self) -> str:
        """What the section shows: it is redrawn only when this changes."""
        plan = self.room.plan
        return repr((plan.get("versions"), plan.get("principal_ids"), self.room.visible))

    def update(self) -> None:
        plan = self.room.plan
        if self.keyed.update():
            self._follow_choices()
        if self._compared is not None:
            _, base_to, revision, count = self._compared
            moved = (base_to == WORKING and plan["content_revision"] != revision) or \
                len(plan.get("versions") or []) != count
            self.stale.set_text("Planen har ändrats sedan jämförelsen. Tryck Jämför igen för att se det nya läget."
                                if moved else "")

    def _follow_choices(self) -> None:
        """The versions to choose from, kept in place (a choice the user made stays while it exists)."""
        numbers = [int(v["number"]) for v in self.room.plan.get("versions") or []]
        self.compare_box.set_visibility(bool(numbers))
        if not numbers:
            return
        froms = {str(n): f"Version {n}" for n in numbers}
        tos = {**froms, WORKING: "Arbetsversionen (inte fastställd)"}
        default_from = str(numbers[-2] if len(numbers) > 1 else numbers[-1])
        default_to = str(numbers[-1]) if len(numbers) > 1 else WORKING
        if froms != self.from_select.options:
            self.from_select.set_options(froms, value=self.from_select.value if self.from_select.value in froms
                                         else default_from)
        if tos != self.to_select.options:
            self.to_select.set_options(tos, value=self.to_select.value if self.to_select.value in tos
                                       else default_to)

    def view(self) -> None:
        plan = self.room.plan
        versions = plan.get("versions") or []
        names = sip.principal_names(plan)
        with ui.column().classes("w-full gap-1").mark("versions"):
            if not versions:
                ui.label("Ingen version är fastställd än.").classes("sp-muted")
            for version in reversed(versions):
                number = version["number"]
                with ui.element("div").classes("sp-row w-full flex flex-col gap-1").mark(f"version-{number}"):
                    ui.label(f"Version {number} – fastställd {fmt.date_time(version['agreed_at'])}").classes(
                        "font-bold")
                    who = ", ".join(names.get(a["principal_id"], "Huvudman som inte längre deltar")
                                    for a in version["approvals"])
                    ui.label(f"Justerad av {who}").classes("sp-muted")
                    with ui.row().classes("gap-2"):
                        for kind, (label, _, _) in EXPORTS.items():
                            ui.button(f"Ladda ned {label}", icon="download",
                                      on_click=lambda n=number, k=kind: self.download(n, k)).props(
                                f'no-caps outline aria-label="Ladda ned {label}, version {number}"').mark(
                                f"export-{kind}-{number}").set_enabled(self.room.visible)

    async def download(self, number: int, kind: str) -> None:
        _, media_type, extension = EXPORTS[kind]
        frame = self.room.frame
        try:
            body = await frame.api.download(f"/sip-plans/{self.room.plan_id}/versions/{number}/{kind}",
                                            await frame.fresh_token(), acting_unit=frame.acting_unit)
        except ApiError as exc:
            ui.notify(sip_message(exc), type="negative", position="top", close_button="Stäng")
            return
        ui.download.content(body, f"sip-version-{number}.{extension}", media_type)

    async def compare(self) -> None:
        start, end = self.from_select.value, self.to_select.value
        if not start or not end:
            self.stale.set_text("Välj två versioner att jämföra.")
            return
        if start == end:
            self.stale.set_text("Välj två olika versioner.")
            return
        params: dict[str, Any] = {"from": start} if end == WORKING else {"from": start, "to": end}
        frame = self.room.frame
        plan = self.room.plan
        try:
            diff: Json = await frame.api.request("GET", f"/sip-plans/{self.room.plan_id}/diff",
                                                 await frame.fresh_token(), acting_unit=frame.acting_unit,
                                                 params=params)
        except ApiError as exc:
            self.stale.set_text(sip_message(exc))
            return
        self._compared = (str(start), str(end), int(plan["content_revision"]), len(plan.get("versions") or []))
        self.stale.set_text("")
        self.show_diff(diff, f"version {start}", "arbetsversionen" if end == WORKING else f"version {end}")

    def show_diff(self, diff: Json, start: str, end: str) -> None:
        plan = self.room.plan
        self.result.clear()
        with self.result:
            ui.label(f"Skillnader från {start} till {end}").classes("font-bold text-lg")
            if not diff["fields"] and not diff["items"]:
                ui.label("Inga skillnader.").mark("diff-none")
                return
            with ui.element("ul").classes("w-full flex flex-col gap-2"):
                for change in diff["fields"]:
                    title = sip.FIELDS.get(change["field"], change["field"])
                    with ui.element("li").classes("sp-row").mark(f"diff-field-{change['field']}"):
                        ui.label(f"Ändrat: {title}").classes("font-bold sp-at_risk")
                        ui.label(f"Före: {sip.shown(change['before'], change['field'], plan)}")
                        ui.label(f"Efter: {sip.shown(change['after'], change['field'], plan)}")
                for change in diff["items"]:
                    self._item_change(change, plan)

    @staticmethod
    def _item_change(change: Json, plan: Json) -> None:
        kind, where = change["kind"], sip.LISTS.get(change["list_name"], change["list_name"])
        preposition = {"added": "i", "removed": "ur", "changed": "i"}[kind]
        with ui.element("li").classes("sp-row").mark(f"diff-item-{change['item_id']}"):
            ui.label(f"{KINDS[kind]} {preposition} {where}").classes(f"font-bold {KIND_CLASS[kind]}")
            before, after = change.get("before") or {}, change.get("after") or {}
            if kind == "changed":
                for part, label in PART_LABELS.items():
                    if before.get(part) != after.get(part):
                        text(f"{label}: {sip.shown(before.get(part), part, plan)} → "
                             f"{sip.shown(after.get(part), part, plan)}", "div")
            else:
                content = after if kind == "added" else before
                for part, label in PART_LABELS.items():
                    if content.get(part):
                        text(f"{label}: {sip.shown(content.get(part), part, plan)}", "div")
