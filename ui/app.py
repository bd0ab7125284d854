"""The NiceGUI process (its own process; a client of the API). A placeholder start page until the UI issue."""

from __future__ import annotations

from nicegui import app, ui

from ui.settings import UiSettings


def build(settings: UiSettings) -> None:
    @ui.page("/")
    def index() -> None:
        ui.page_title("Samplan")
        with ui.column().classes("max-w-2xl mx-auto p-8 gap-4"):
            ui.label("Samplan").classes("text-3xl font-bold")
            ui.label("Samordnad utskrivning och SIP i realtid.").classes("text-lg")
            ui.label("Utskrivningstavlan, inkorgen och ärendevyn kommer här. Under tiden finns API:t:")
            ui.link("API-dokumentation", f"{settings.api_url}/schema", new_tab=True)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}


def run() -> None:
    settings = UiSettings()
    build(settings)
    ui.run(host=settings.host, port=settings.port, title="Samplan", language="sv", reload=False, show=False,
           storage_secret=settings.storage_secret, uvicorn_logging_level="warning")
