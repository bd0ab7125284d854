"""Sök patient: find a patient among the acting unit's cases, open or ended, by personnummer or name.

The server searches (`POST /patients/search`, the text in the body, never the URL): an exact personnummer or the
beginning of a name, over the whole history, through indexes; every patient found is in the access log, and a person
with protected identity is found only by users with the explicit need. The answer is a short list of cases to open.
"""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.frame import Frame


class PatientSearch:
    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.results: ui.column | None = None
        self.field: ui.input | None = None

    def build(self) -> None:
        with ui.row().classes("items-end gap-2").props('role="search" aria-label="Sök patient"'):
            self.field = ui.input("Sök patient (personnummer eller början av namnet)").props(
                "dense outlined clearable").classes("min-w-[20rem]").on("keydown.enter", self.search)
            ui.button("Sök", icon="search", on_click=self.search).props("no-caps outline")
        self.results = ui.column().classes("w-full gap-1").props('aria-live="polite"')

    async def search(self) -> None:
        assert self.field is not None
        assert self.results is not None
        text = (self.field.value or "").strip()
        self.results.clear()
        if len(text) < 2:
            with self.results:
                ui.label("Skriv minst två tecken.").classes("sp-muted")
            return
        token = await self.frame.fresh_token()
        try:
            answer = await self.frame.api.search_patients(token, text, self.frame.acting_unit)
        except ApiError as exc:
            with self.results:
                ui.label(exc.message).props('role="alert"')
            return
        with self.results:
            hits: list[Json] = answer["items"]
            if not hits:
                ui.label("Ingen patient hittades.").classes("sp-muted")
            for hit in hits:
                self._hit(hit)

    def _hit(self, hit: Json) -> None:
        patient = hit["patient"]
        with ui.row().classes("items-center gap-3").mark("search-hit"):
            ui.link(f"{patient['name']} ({patient['identity']})", f"/arende/{hit['case_id']}")
            ui.label(fmt.label(fmt.STATES, hit["state"]))
            ui.label(f"inskriven {fmt.day(hit['admitted_at'])}").classes("sp-muted")
