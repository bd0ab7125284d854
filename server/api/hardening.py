"""API hardening: security headers on every response, and rate limiting per user (or address).

Headers: a strict Content-Security-Policy for the API (JSON never needs scripts), a looser one for the
interactive docs under /schema (Swagger UI's script and style from its CDN), no MIME sniffing, no referrer,
no framing, and HSTS when the request came over HTTPS (directly, or as the proxy says in X-Forwarded-Proto).

Rate limiting: Litestar's fixed-window limiter, keyed by the bearer token's subject (unverified here: a
forged subject only spreads requests that are then refused with 401) or, without a token, by the client
address. Health, readiness and metrics are not limited. Over the limit: 429 problem details.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import DurationUnit, RateLimitConfig, get_remote_address
from litestar.types import Message, Scope

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com; "
            "img-src 'self' data: https://cdn.jsdelivr.net https://unpkg.com; connect-src 'self'; "
            "font-src 'self' data: https://cdn.jsdelivr.net; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")
# The development identity provider's login page: its own inline style, a form posting back to itself.
PAGE_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
            "base-uri 'none'")
COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
          (b"cross-origin-resource-policy", b"same-origin"), (b"permissions-policy", b"camera=(), microphone=(), "
                                                                                     b"geolocation=()"))
UNLIMITED_PATHS = ["^/health$", "^/ready$", "^/metrics$"]


def security_headers(hsts_seconds: int = 31_536_000) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook: Litestar runs it on every message it sends, so answers made from exceptions raised
    in middleware (401, 429) get the headers too."""
    hsts = f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds > 0 else None

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = scope.get("path", "")
        csp = (DOCS_CSP if path == "/schema" or path.startswith("/schema/")
               else PAGE_CSP if path.startswith("/dev-idp") else API_CSP)
        https = scope.get("scheme") == "https" or any(
            k == b"x-forwarded-proto" and v.split(b",")[0].strip().lower() == b"https" for k, v in scope["headers"])
        headers = list(message.get("headers", []))
        present = {bytes(k).lower() for k, _ in headers}
        added = [(b"content-security-policy", csp.encode()), *COMMON]
        if https and hsts:
            added.append((b"strict-transport-security", hsts))
        message["headers"] = [*headers, *((k, v) for k, v in added if k not in present)]

    return add_headers


def rate_limit_identifier(request: Request[Any, Any, Any]) -> str:
    """The token's subject (per user across devices), else the client address."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        parts = header[7:].strip().split(".")
        if len(parts) == 3:
            try:
                claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
                subject = claims.get("sub") if isinstance(claims, dict) else None
            except (ValueError, binascii.Error):
                subject = None
            if isinstance(subject, str) and subject:
                return "sub:" + hashlib.sha256(subject.encode()).hexdigest()[:32]
    return "ip:" + get_remote_address(request)


def parse_rate_limit(value: str) -> tuple[DurationUnit, int] | None:
    """`600/minute` -> ("minute", 600); `0` or `off` -> None (no limit)."""
    value = value.strip().lower()
    if value in ("", "0", "off", "none"):
        return None
    count, _, unit = value.partition("/")
    if unit not in ("second", "minute", "hour", "day") or not count.isdigit() or int(count) < 1:
        raise ValueError(f"SAMPLAN_RATE_LIMIT must look like 600/minute (second|minute|hour|day), not {value!r}")
    return unit, int(count)  # type: ignore[return-value]


def rate_limit(value: str) -> RateLimitConfig | None:
    limit = parse_rate_limit(value)
    if limit is None:
        return None
    return RateLimitConfig(rate_limit=limit, identifier_for_request=rate_limit_identifier, exclude=UNLIMITED_PATHS)
