"""Access tokens revoked before their expiry (sign-out): a deny-list the API checks on every authentication.

A JWT stays valid until its `exp` wherever it is verified, so signing out must tell the API. `POST /api/v1/logout`
(the UI calls it when a user signs out; a script can call it with a `samplan token`) puts the presented token on
this list until its own expiry; from then on the token is refused with 401 on REST and on the event stream.

Keys: the token's `jti` with its issuer (RFC 7519 4.1.7; our development provider and Keycloak always set it),
hashed; a token without `jti` is keyed by the SHA-256 of the token itself. Values never hold the token.

Where: in Redis when `REDIS_URL` is set (every API instance sees a sign-out at once; each key expires with its
token, so the list never outgrows the tokens alive), else in the process (embedded defaults: one API process;
a restart forgets the list).

If Redis does not answer, availability wins over the deny-list, as for the rate limits: Redis only fans out and
counts here, and an outage of it must not stop the wards' writes (tests/realtime/test_two_instances.py). Each
instance also keeps the revocations made through it in its own memory and checks those always; for
`REDIS_DOWN_SECONDS` after a failed call it asks only that memory, then tries Redis again. So during an outage a
token revoked through another instance is accepted until Redis answers again (at most its remaining lifetime:
15 minutes for the UI's tokens). A sign-out while Redis is down holds on the instance that took it and answers
503 (`RevocationUnavailable`), so the caller knows it did not reach every instance.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["MemoryRevocations", "RedisRevocations", "RevocationList", "RevocationUnavailable", "revocation_key",
           "revocations"]

REDIS_PREFIX = "samplan:revoked-token:"
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_CONNECT_TIMEOUT_SECONDS = 2.0
REDIS_DOWN_SECONDS = 5.0

log = logging.getLogger(__name__)


class RevocationUnavailable(Exception):
    """The deny-list could not be read or written (Redis does not answer)."""


def revocation_key(token: str, claims: Mapping[str, Any]) -> str:
    """The deny-list key of a verified token: its issuer and `jti`, or (no `jti`) the token itself, hashed."""
    jti, issuer = claims.get("jti"), claims.get("iss")
    material = f"{issuer}\n{jti}" if isinstance(jti, str) and jti else f"token\n{token}"
    return hashlib.sha256(material.encode()).hexdigest()


class RevocationList(Protocol):
    async def revoke(self, key: str, expires_at: float) -> None:
        """Refuse the token with `key` until `expires_at` (epoch seconds; its `exp`)."""
        ...

    async def is_revoked(self, key: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryRevocations:
    """The deny-list of one API process (embedded defaults)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._until: dict[str, float] = {}
        self._max_keys = max_keys

    async def revoke(self, key: str, expires_at: float) -> None:
        now = time.time()
        if expires_at <= now:
            return
        if len(self._until) >= self._max_keys:
            self._until = {k: v for k, v in self._until.items() if v > now}
            if len(self._until) >= self._max_keys:  # all alive: refuse to forget one silently
                raise RevocationUnavailable("the in-process revocation list is full")
        self._until[key] = expires_at

    async def is_revoked(self, key: str) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= time.time():
            del self._until[key]
            return False
        return True

    async def close(self) -> None:
        self._until.clear()


class RedisRevocations:
    """The deny-list in Redis, shared by every API instance; one key per revoked token, expiring with it. Revocations
    made through this instance are mirrored in its memory, which answers alone while Redis does not (see above)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = aioredis.from_url(url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
                                        socket_timeout=REDIS_TIMEOUT_SECONDS)
        self._local = MemoryRevocations()
        self._clock = clock
        self._down_until = 0.0

    def _failed(self, exc: BaseException) -> None:
        if self._clock() >= self._down_until:
            log.warning("revocation list: Redis does not answer (%s); using this instance's own list for %.0f s",
                        type(exc).__name__, REDIS_DOWN_SECONDS)
        self._down_until = self._clock() + REDIS_DOWN_SECONDS

    async def revoke(self, key: str, expires_at: float) -> None:
        seconds = int(expires_at - time.time()) + 1
        if seconds <= 0:
            return
        await self._local.revoke(key, expires_at)
        try:
            await self._redis.set(REDIS_PREFIX + key, b"1", ex=seconds)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            raise RevocationUnavailable(type(exc).__name__) from None

    async def is_revoked(self, key: str) -> bool:
        if await self._local.is_revoked(key):
            return True
        if self._clock() < self._down_until:
            return False
        try:
            return bool(await self._redis.exists(REDIS_PREFIX + key))
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def revocations(redis_url: str) -> RevocationList:
    return RedisRevocations(redis_url) if redis_url else MemoryRevocations()
