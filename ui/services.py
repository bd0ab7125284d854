"""The UI process's shared services, built once in `ui.app.build` and used by every page."""

from __future__ import annotations

from dataclasses import dataclass

from ui.api_client import ApiClient
from ui.live import LiveHub
from ui.settings import UiSettings


@dataclass
class Services:
    settings: UiSettings
    api: ApiClient
    hub: LiveHub


_services: Services | None = None


def install(services: Services) -> None:
    global _services  # one per process, set at start-up
    _services = services


def services() -> Services:
    if _services is None:
        raise RuntimeError("the UI services are not built yet (ui.app.build)")
    return _services
