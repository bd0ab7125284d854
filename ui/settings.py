"""Settings of the UI process, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UiSettings:
    api_url: str = field(default_factory=lambda: os.environ.get("SAMPLAN_API_URL", "http://127.0.0.1:8000"))
    host: str = field(default_factory=lambda: os.environ.get("SAMPLAN_UI_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("SAMPLAN_UI_PORT", "8080")))
    storage_secret: str = field(default_factory=lambda: os.environ.get("SAMPLAN_UI_STORAGE_SECRET", "dev-only-secret"))
