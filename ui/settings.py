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
    # Public address of the UI as the browser sees it (redirect URIs, Secure cookie when https). Empty = host:port.
    base_url: str = field(default_factory=lambda: os.environ.get("SAMPLAN_UI_BASE_URL", ""))
    # OIDC login (authorization code + PKCE). The default issuer is the API's development identity provider.
    oidc_issuer: str = field(default_factory=lambda: os.environ.get("OIDC_ISSUER") or "http://127.0.0.1:8000/dev-idp")
    oidc_client_id: str = field(default_factory=lambda: os.environ.get("OIDC_CLIENT_ID") or "samplan-ui")
    oidc_client_secret: str = field(
        default_factory=lambda: os.environ.get("OIDC_CLIENT_SECRET") or "samplan-dev-client-secret")
    oidc_scopes: str = field(default_factory=lambda: os.environ.get("OIDC_SCOPES") or "openid profile")
    # Hours a signed-in browser session lives at most (the session cookie's Max-Age).
    session_hours: float = field(default_factory=lambda: float(os.environ.get("SAMPLAN_UI_SESSION_HOURS") or "12"))

    @property
    def public_url(self) -> str:
        """The UI's public base URL without a trailing slash."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")
