"""Settings of the UI process, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# The defaults that make `samplan dev` work out of the box. Public (they are in the repository): outside development
# mode the UI refuses to start with them (`UiSettings.problems`).
DEV_STORAGE_SECRET = "dev-only-secret"  # noqa: S105 - a known development default, refused in production
DEV_CLIENT_SECRET = "samplan-dev-client-secret"  # noqa: S105 - the same
DEV_ISSUER = "http://127.0.0.1:8000/dev-idp"  # the API's development identity provider on its default port
MIN_SECRET_LENGTH = 32


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class UiSettings:
    api_url: str = field(default_factory=lambda: os.environ.get("SAMPLAN_API_URL", "http://127.0.0.1:8000"))
    host: str = field(default_factory=lambda: os.environ.get("SAMPLAN_UI_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("SAMPLAN_UI_PORT", "8080")))
    # Development mode (SAMPLAN_DEV_MODE=1, which `samplan dev` sets): the development defaults below are accepted.
    dev_mode: bool = field(default_factory=lambda: _flag("SAMPLAN_DEV_MODE"))
    storage_secret: str = field(
        default_factory=lambda: os.environ.get("SAMPLAN_UI_STORAGE_SECRET") or DEV_STORAGE_SECRET, repr=False)
    # Public address of the UI as the browser sees it (redirect URIs, Secure cookie when https). Empty = host:port.
    base_url: str = field(default_factory=lambda: os.environ.get("SAMPLAN_UI_BASE_URL", ""))
    # OIDC login (authorization code + PKCE). The default issuer is the API's development identity provider.
    oidc_issuer: str = field(default_factory=lambda: os.environ.get("OIDC_ISSUER") or DEV_ISSUER)
    oidc_client_id: str = field(default_factory=lambda: os.environ.get("OIDC_CLIENT_ID") or "samplan-ui")
    oidc_client_secret: str = field(
        default_factory=lambda: os.environ.get("OIDC_CLIENT_SECRET") or DEV_CLIENT_SECRET, repr=False)
    oidc_scopes: str = field(default_factory=lambda: os.environ.get("OIDC_SCOPES") or "openid profile")
    # Hours a signed-in browser session lives at most (the session cookie's Max-Age, and the stored session's).
    session_hours: float = field(default_factory=lambda: float(os.environ.get("SAMPLAN_UI_SESSION_HOURS") or "12"))

    @property
    def public_url(self) -> str:
        """The UI's public base URL without a trailing slash."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def problems(self) -> list[str]:
        """Why the UI must not start with these settings outside development mode (fail closed), or nothing."""
        if self.dev_mode:
            return []
        found = []
        if self.storage_secret == DEV_STORAGE_SECRET or len(self.storage_secret) < MIN_SECRET_LENGTH:
            found.append(f"SAMPLAN_UI_STORAGE_SECRET is unset, the public development default or shorter than "
                         f"{MIN_SECRET_LENGTH} characters: set a long random value, the same on every UI instance")
        if self.oidc_client_secret == DEV_CLIENT_SECRET:
            found.append("OIDC_CLIENT_SECRET is unset or the public development default: set the UI's client "
                         "secret at the identity provider")
        if self.oidc_issuer == DEV_ISSUER:
            found.append("OIDC_ISSUER is unset or the development identity provider: set the identity provider's "
                         "issuer URL")
        if not self.base_url:
            found.append("SAMPLAN_UI_BASE_URL is unset: set the UI's public address (redirect URIs are built from "
                         "it), e.g. https://samplan.region.se")
        return found
