"""API hardening: security headers on every response, and rate limiting per user (or address).

Headers: a strict Content-Security-Policy for the API (JSON never needs scripts), a looser one for the
interactive docs under /schema (Swagger UI's script and style from its CDN), no MIME sniffing, no referrer,
no framing, and HSTS when the request came over HTTPS (directly, or as the proxy says in X-Forwarded-Proto).

Rate limiting: a fixed window per key: the subject of a bearer token whose signature and claims verify (the
limiter verifies it and leaves the result to the request's authentication, so it is verified once), else the
client address. A token that does not verify (forged, expired, signed by anyone else) counts against the address
it came from, never against the user it names: a forged token carrying a victim's `sub` cannot spend the victim's
bucket. Health, readiness and metrics are not limited. Over the limit: 429 problem details with `RateLimit-*`
headers.

Where the counts live: with Redis configured (REDIS_URL) in Redis, so that every API instance counts against
the same limit (per-process counters would allow N instances N times the limit); on embedded defaults in the
process. Litestar's RateLimitConfig names the store (`rate_limit`, registered in the app's `stores` by
`rate_limit_stores`); our middleware counts with one atomic step per request (`CounterStore.hit`: a Lua INCR
with the window's expiry in Redis) instead of Litestar's read-modify-write of a list of timestamps, which two
instances would race on (lost counts) and which costs O(limit) per request. If Redis does not answer, the
limiter counts in the process for `REDIS_RETRY_SECONDS` and then tries Redis again: the API stays available
(each instance then enforces the limit on its own), rather than failing every request with Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import redis.asyncio as aioredis
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    DurationUnit,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.types import Message, Receive, Scope, Send
from redis.exceptions import RedisError

from server.auth.tokens import InvalidToken, bearer_token

log = logging.getLogger("samplan.api")

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


VERIFIED_TOKEN_SCOPE_KEY = "samplan.verified_token"  # noqa: S105 - a scope key: (token, VerifiedToken) from the limiter


def rate_limit_identifier(request: Request[Any, Any, Any]) -> str:
    """The client address: the key of a request without a verified token (Litestar's synchronous hook)."""
    return "ip:" + get_remote_address(request)


async def verified_identifier(request: Request[Any, Any, Any]) -> str:
    """The verified token's subject (per user across devices), else the client address.

    The verification is left in the scope (`VERIFIED_TOKEN_SCOPE_KEY`) for the request's authentication."""
    runtime = getattr(request.app.state, "runtime", None)
    try:
        token = bearer_token(request.headers.get("authorization"))
        verified = await runtime.verifier.verify(token) if runtime is not None else None
    except InvalidToken:  # missing, forged, expired, or the key set is unavailable: not an identity
        verified = None
    if verified is None:
        return rate_limit_identifier(request)
    request.scope[VERIFIED_TOKEN_SCOPE_KEY] = (token, verified)  # type: ignore[literal-required]
    return "sub:" + hashlib.sha256(f"{verified.claims.get('iss')}\n{verified.subject}".encode()).hexdigest()[:32]


def parse_rate_limit(value: str) -> tuple[DurationUnit, int] | None:
    """`600/minute` -> ("minute", 600); `0` or `off` -> None (no limit)."""
    value = value.strip().lower()
    if value in ("", "0", "off", "none"):
        return None
    count, _, unit = value.partition("/")
    if unit not in ("second", "minute", "hour", "day") or not count.isdigit() or int(count) < 1:
        raise ValueError(f"SAMPLAN_RATE_LIMIT must look like 600/minute (second|minute|hour|day), not {value!r}")
    return unit, int(count)  # type: ignore[return-value]


RATE_LIMIT_STORE = "rate_limit"
REDIS_NAMESPACE = "samplan_rate_limit"
REDIS_RETRY_SECONDS = 5.0  # after Redis failed to answer, count in the process this long before trying again
REDIS_TIMEOUT_SECONDS = 0.5  # the limiter must not hold a request up for long when Redis hangs


@runtime_checkable
class CounterStore(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one request under `key` in its window (opened by the window's first request, `window_seconds`
        long): the count so far, this one included, and the seconds until the window ends."""
        ...


class _LocalWindows:
    """Fixed windows counted in this process."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, end of the window: monotonic clock)
        self._max_keys = max_keys

    def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = time.monotonic()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window_seconds
            if len(self._windows) >= self._max_keys:  # forget ended windows (and, if need be, the oldest)
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
                while len(self._windows) >= self._max_keys:
                    del self._windows[next(iter(self._windows))]
        self._windows[key] = (count + 1, ends)
        return count + 1, max(0, round(ends - now))


class MemoryCounterStore(MemoryStore):
    """Litestar's memory store with the limiter's counter: one process (embedded defaults)."""

    __slots__ = ("_windows",)

    def __init__(self) -> None:
        super().__init__()
        self._windows = _LocalWindows()

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        return self._windows.hit(key, window_seconds)


_HIT = b"""
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisCounterStore(RedisStore):
    """Litestar's Redis store with the limiter's counter, shared by every API instance using the same Redis."""

    __slots__ = ("_down_until", "_hit_script", "_local")

    def __init__(self, redis: aioredis.Redis, namespace: str = REDIS_NAMESPACE,
                 handle_client_shutdown: bool = True) -> None:
        super().__init__(redis, namespace=namespace, handle_client_shutdown=handle_client_shutdown)
        self._hit_script = redis.register_script(_HIT)
        self._local = _LocalWindows()
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str) -> RedisCounterStore:
        return cls(aioredis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                     socket_timeout=REDIS_TIMEOUT_SECONDS))

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        if time.monotonic() >= self._down_until:
            try:
                count, ttl = await self._hit_script(keys=[self._make_key(key)], args=[window_seconds])
                return int(count), int(ttl)
            except (RedisError, OSError) as exc:
                self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning("rate limiting: Redis did not answer (%s); counting in this process for %.0f s",
                            type(exc).__name__, REDIS_RETRY_SECONDS)
        return self._local.hit(key, window_seconds)


class SharedRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's rate limiter, counting through the store's atomic `hit` (see the module's docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        store = self.config.get_store_from_app(app)
        if not isinstance(store, CounterStore):  # a plain store: Litestar's own way
            await super().__call__(scope, receive, send)
            return
        request: Request[Any, Any, Any] = app.request_class(scope)
        if await self.should_check_request(request=request):
            window = DURATION_VALUES[self.unit]
            key = f"{type(self).__name__}::{await verified_identifier(request)}"
            count, left = await store.hit(key, window)
            headers = {
                self.config.rate_limit_policy_header_key: f"{self.max_requests}; w={window}",
                self.config.rate_limit_limit_header_key: str(self.max_requests),
                self.config.rate_limit_remaining_header_key: str(max(0, self.max_requests - count)),
                self.config.rate_limit_reset_header_key: str(left),
            }
            if count > self.max_requests:
                raise TooManyRequestsException(headers=headers if self.config.set_rate_limit_headers else None)
            if self.config.set_rate_limit_headers:
                send = _with_headers(send, headers)
        await self.app(scope, receive, send)


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            response_headers = MutableScopeHeaders(message)
            for key, value in headers.items():
                response_headers[key] = value
        await send(message)

    return wrapped


def rate_limit(value: str) -> RateLimitConfig | None:
    limit = parse_rate_limit(value)
    if limit is None:
        return None
    return RateLimitConfig(rate_limit=limit, identifier_for_request=rate_limit_identifier, exclude=UNLIMITED_PATHS,
                           store=RATE_LIMIT_STORE, middleware_class=SharedRateLimitMiddleware)


def rate_limit_stores(redis_url: str) -> dict[str, Store]:
    """The limiter's counters: in Redis when it is configured (shared by the API instances), else in memory."""
    store: Store = RedisCounterStore.from_url(redis_url) if redis_url else MemoryCounterStore()
    return {RATE_LIMIT_STORE: store}
