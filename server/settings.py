"""Settings of the API process, read once from the environment (documented in `.env.example`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path

from domain.time_limits import TimeLimits


def _env(name: str, default: str) -> str:
    """An environment variable; set-but-empty counts as unset."""
    return os.environ.get(name) or default


def _flag(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Everything the API needs from outside. Development mode enables the built-in token issuer."""

    data_dir: Path = field(default_factory=lambda: Path(_env("SAMPLAN_DATA_DIR", ".samplan")))
    database_url: str = ""
    # Development mode (built-in identity provider, demo users, `samplan token`): only when asked for
    # (SAMPLAN_DEV_MODE=1, which `samplan dev` sets). Without it and without OIDC_JWKS_URL the API refuses to start.
    dev_mode: bool = field(default_factory=lambda: _flag("SAMPLAN_DEV_MODE", False))
    oidc_issuer: str = field(default_factory=lambda: _env("OIDC_ISSUER", "http://127.0.0.1:8000/dev-idp"))
    oidc_audience: str = field(default_factory=lambda: _env("OIDC_AUDIENCE", "samplan"))
    oidc_jwks_url: str = field(default_factory=lambda: _env("OIDC_JWKS_URL", ""))
    oidc_algorithms: tuple[str, ...] = field(
        default_factory=lambda: tuple(a.strip() for a in _env("OIDC_ALGORITHMS", "RS256,ES256").split(",") if a))
    user_claim: str = field(default_factory=lambda: _env("OIDC_USER_CLAIM", "hsa_id"))
    payment_policy: str = field(default_factory=lambda: _env("SAMPLAN_PAYMENT_POLICY", "stockholm_2020"))
    api_host: str = field(default_factory=lambda: _env("SAMPLAN_API_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: int(_env("SAMPLAN_API_PORT", "8000")))
    ui_host: str = field(default_factory=lambda: _env("SAMPLAN_UI_HOST", "127.0.0.1"))
    ui_port: int = field(default_factory=lambda: int(_env("SAMPLAN_UI_PORT", "8080")))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    stream_queue_size: int = field(default_factory=lambda: int(_env("SAMPLAN_STREAM_QUEUE_SIZE", "1000")))
    stream_max_replay: int = field(default_factory=lambda: int(_env("SAMPLAN_STREAM_MAX_REPLAY", "10000")))
    # Limits of one stream connection (docs/events.md, "Limits"); 0 = no limit, for every one of them.
    stream_max_frame_bytes: int = field(default_factory=lambda: int(_env("SAMPLAN_STREAM_MAX_FRAME_BYTES", "16384")))
    stream_max_feeds_per_subscribe: int = field(
        default_factory=lambda: int(_env("SAMPLAN_STREAM_MAX_FEEDS_PER_SUBSCRIBE", "100")))
    stream_subscribes_per_minute: int = field(
        default_factory=lambda: int(_env("SAMPLAN_STREAM_SUBSCRIBES_PER_MINUTE", "10")))
    stream_presence_per_minute: int = field(
        default_factory=lambda: int(_env("SAMPLAN_STREAM_PRESENCE_PER_MINUTE", "120")))
    stream_presence_field_max_length: int = field(
        default_factory=lambda: int(_env("SAMPLAN_STREAM_PRESENCE_FIELD_MAX_LENGTH", "64")))
    # Open stream connections of one user on one API instance.
    stream_max_connections_per_user: int = field(
        default_factory=lambda: int(_env("SAMPLAN_STREAM_MAX_CONNECTIONS_PER_USER", "20")))
    heartbeat_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_HEARTBEAT_SECONDS", "15")))
    # Websocket protocol pings (uvicorn): sent this often, and a connection whose client does not answer within as
    # long again is closed (1011). uvicorn's default, 20 s.
    stream_ping_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_STREAM_PING_SECONDS", "20")))
    presence_ttl_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_PRESENCE_TTL_SECONDS", "30")))
    publish_timeout_seconds: float = field(
        default_factory=lambda: float(_env("SAMPLAN_PUBLISH_TIMEOUT_SECONDS", "0.5")))
    relay_interval_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_RELAY_INTERVAL_SECONDS", "1")))
    idempotency_ttl_hours: int = field(default_factory=lambda: int(_env("SAMPLAN_IDEMPOTENCY_TTL_HOURS", "24")))
    # API requests per user (or client address) and window, e.g. 6000/minute; 0 = no limit.
    rate_limit: str = field(default_factory=lambda: _env("SAMPLAN_RATE_LIMIT", "6000/minute"))
    # Strict-Transport-Security max-age sent on HTTPS responses; 0 = no HSTS header.
    hsts_seconds: int = field(default_factory=lambda: int(_env("SAMPLAN_HSTS_SECONDS", "31536000")))
    # Days the access log is kept before `samplan purge-access-log` may remove rows; at least 5 years.
    access_log_retention_days: int = field(
        default_factory=lambda: int(_env("SAMPLAN_ACCESS_LOG_RETENTION_DAYS", "1827")))
    # Seconds between the access-log sealer's rounds (each API instance runs one; it chains the logged rows).
    access_log_seal_interval_seconds: float = field(
        default_factory=lambda: float(_env("SAMPLAN_ACCESS_LOG_SEAL_INTERVAL_SECONDS", "1")))
    # Rows unsealed for longer than this make verification warn (and `samplan verify-access-log` exit 3).
    access_log_unsealed_warning_seconds: float = field(
        default_factory=lambda: float(_env("SAMPLAN_ACCESS_LOG_UNSEALED_WARNING_SECONDS", "300")))
    # The access log's chain key (HMAC-SHA256; a secret kept outside the database, at least 32 characters).
    # Required outside development mode; development mode creates $SAMPLAN_DATA_DIR/access-log-key (0600).
    access_log_key: str = field(default_factory=lambda: _env("SAMPLAN_ACCESS_LOG_KEY", ""), repr=False)
    # Keys used before a rotation, oldest first, comma-separated: verification needs them for older rows.
    access_log_old_keys: tuple[str, ...] = field(default_factory=lambda: tuple(
        k.strip() for k in _env("SAMPLAN_ACCESS_LOG_OLD_KEYS", "").split(",") if k.strip()), repr=False)
    # The append-only file (JSON lines) that `samplan checkpoint-access-log` and purges append the chain's head
    # to, and that verification checks the database against. Empty: none (a cut tail cannot be detected).
    access_log_checkpoint_file: Path | None = field(default_factory=lambda: Path(
        _env("SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE", "")) if _env("SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE", "") else None)
    # Public address of the UI (the development identity provider registers its redirect URIs there).
    ui_base_url: str = field(default_factory=lambda: _env("SAMPLAN_UI_BASE_URL", ""))
    # The development identity provider's one client (the UI) and its token lifetimes.
    dev_client_id: str = field(default_factory=lambda: _env("OIDC_CLIENT_ID", "samplan-ui"))
    dev_client_secret: str = field(default_factory=lambda: _env(
        "SAMPLAN_DEV_OIDC_CLIENT_SECRET", _env("OIDC_CLIENT_SECRET", "samplan-dev-client-secret")))
    dev_access_token_seconds: int = field(
        default_factory=lambda: int(_env("SAMPLAN_DEV_OIDC_ACCESS_TOKEN_SECONDS", "900")))
    dev_refresh_token_hours: float = field(
        default_factory=lambda: float(_env("SAMPLAN_DEV_OIDC_REFRESH_TOKEN_HOURS", "12")))

    # Plausible windows for the times clients send (domain.time_limits): how far back a recorded time (admission,
    # discharge, consent...) may lie, how far ahead of the server's clock, and how far ahead an estimated discharge
    # and a SIP meeting or follow-up date; an access-log period's earliest start.
    max_past_days: int = field(default_factory=lambda: int(_env("SAMPLAN_MAX_PAST_DAYS", "365")))
    clock_skew_seconds: int = field(default_factory=lambda: int(_env("SAMPLAN_CLOCK_SKEW_SECONDS", "300")))
    estimate_horizon_days: int = field(default_factory=lambda: int(_env("SAMPLAN_ESTIMATE_HORIZON_DAYS", "365")))
    sip_horizon_days: int = field(default_factory=lambda: int(_env("SAMPLAN_SIP_HORIZON_DAYS", "730")))
    audit_past_days: int = field(default_factory=lambda: int(_env("SAMPLAN_AUDIT_PAST_DAYS", "3653")))
    # Request bodies: the largest accepted (413 beyond) and the deepest JSON nesting (400 beyond).
    max_body_bytes: int = field(default_factory=lambda: int(_env("SAMPLAN_MAX_BODY_BYTES", "1048576")))
    max_json_depth: int = field(default_factory=lambda: int(_env("SAMPLAN_MAX_JSON_DEPTH", "32")))

    # E-mail notices (docs/operations.md, "E-mail notices"). SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS
    # when the server offers it; ?starttls=require to insist) or smtps://... (TLS from the start); empty: no mail is
    # sent (notices still queue). The dispatcher runs in every API process unless SAMPLAN_MAIL_DISPATCHER=0.
    smtp_url: str = field(default_factory=lambda: _env("SMTP_URL", ""), repr=False)
    mail_from: str = field(default_factory=lambda: _env("SAMPLAN_MAIL_FROM", "Samplan <noreply@samplan.invalid>"))
    mail_dispatcher: bool = field(default_factory=lambda: _flag("SAMPLAN_MAIL_DISPATCHER", True))
    mail_poll_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_MAIL_POLL_SECONDS", "0.5")))
    mail_lease_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_MAIL_LEASE_SECONDS", "60")))
    mail_batch_size: int = field(default_factory=lambda: int(_env("SAMPLAN_MAIL_BATCH_SIZE", "100")))
    mail_max_attempts: int = field(default_factory=lambda: int(_env("SAMPLAN_MAIL_MAX_ATTEMPTS", "8")))
    # Escalation: a scan every ESCALATION_SCAN_SECONDS notifies the responsible unit's users when a deadline is at
    # risk or has passed unmet; still unmet ESCALATION_AFTER_HOURS later, the unit's super users (samordnare) and
    # local access administrators. Thresholds older than ESCALATION_LOOKBACK_DAYS are not notified any more.
    escalation_scan_seconds: float = field(default_factory=lambda: float(_env("SAMPLAN_ESCALATION_SCAN_SECONDS", "60")))
    escalation_after_hours: float = field(default_factory=lambda: float(_env("SAMPLAN_ESCALATION_AFTER_HOURS", "4")))
    escalation_lookback_days: float = field(
        default_factory=lambda: float(_env("SAMPLAN_ESCALATION_LOOKBACK_DAYS", "7")))

    def __post_init__(self) -> None:
        try:  # out-of-range windows fail at startup, not on the first request
            self.time_limits  # noqa: B018
        except ValueError as exc:
            raise ValueError(f"SAMPLAN_MAX_PAST_DAYS, SAMPLAN_CLOCK_SKEW_SECONDS, SAMPLAN_ESTIMATE_HORIZON_DAYS, "
                             f"SAMPLAN_SIP_HORIZON_DAYS or SAMPLAN_AUDIT_PAST_DAYS: {exc}") from None
        if not 1 <= self.max_json_depth <= 256:
            raise ValueError(f"SAMPLAN_MAX_JSON_DEPTH must be between 1 and 256, got {self.max_json_depth}")
        if self.max_body_bytes < 1:
            raise ValueError(f"SAMPLAN_MAX_BODY_BYTES must be positive, got {self.max_body_bytes}")
        if not self.database_url:
            url = _env("DATABASE_URL", f"sqlite+aiosqlite:///{self.data_dir / 'samplan.db'}")
            object.__setattr__(self, "database_url", normalise_database_url(url))

    def identity_provider_problem(self) -> str | None:
        """Why the API must not start with these settings (fail closed), or None."""
        if self.oidc_jwks_url or self.dev_mode:
            return None
        return ("no identity provider: set OIDC_JWKS_URL (with OIDC_ISSUER and OIDC_AUDIENCE) to your OIDC "
                "provider, or SAMPLAN_DEV_MODE=1 for the development identity provider with demo users "
                "(never in production)")

    @property
    def time_limits(self) -> TimeLimits:
        return TimeLimits(max_past=timedelta(days=self.max_past_days),
                          clock_skew=timedelta(seconds=self.clock_skew_seconds),
                          estimate_horizon=timedelta(days=self.estimate_horizon_days),
                          sip_horizon=timedelta(days=self.sip_horizon_days),
                          audit_past=timedelta(days=self.audit_past_days))

    @property
    def dev_key_path(self) -> Path:
        return self.data_dir / "dev-signing-key.json"

    @property
    def access_log_key_path(self) -> Path:
        """Where development mode keeps the access log's chain key (created on first use, mode 0600)."""
        return self.data_dir / "access-log-key"

    @property
    def ui_public_url(self) -> str:
        """The UI's public base URL without a trailing slash (SAMPLAN_UI_BASE_URL, else its host and port)."""
        return (self.ui_base_url or f"http://{self.ui_host}:{self.ui_port}").rstrip("/")


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgresql://` and `sqlite://` forms and pick the async drivers."""
    for prefix, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                           ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(prefix):
            return driver + url[len(prefix):]
    return url


@cache
def get_settings() -> Settings:
    return Settings()
