"""Where the development identity provider keeps its login codes and refresh tokens (`server/auth/dev_idp.py`).

Two stores with one interface (`IdpStore`):

- `MemoryStore`, the process's memory (bounded and expiring): `samplan dev` on embedded defaults, one API process.
  A restart forgets them: every open page's refresh token is then refused and the user signs in again.
- `RedisStore`, Redis (when `REDIS_URL` is set): every API instance behind the proxy finds a code another instance
  issued, and a refresh token outlives the instance that issued it. Keys `samplan:dev-idp:<key id>:*` (the
  signing key's id: the instances that sign with one key share one store), each expiring with what it holds.

Both keep secrets only as SHA-256 digests (the key of each record). The records are authlib's code and token
mixins; `blocking` says the store does network calls (authlib's server is synchronous: the routes then run it in a
worker thread, `dev_idp_routes.py`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import redis
from authlib.oauth2.rfc6749 import InvalidGrantError

__all__ = ["REDIS_PREFIX", "AuthorizationCode", "DevUser", "IdpStore", "MemoryStore", "RedisStore", "RefreshToken",
           "digest"]

REDIS_PREFIX = "samplan:dev-idp:"
REDIS_TIMEOUT_SECONDS = 2.0
_MAX_CODES = 1_000
_MAX_REFRESH_TOKENS = 10_000
_MAX_USED_REFRESH_TOKENS = 10_000


def digest(secret_value: str) -> str:
    return hashlib.sha256(secret_value.encode()).hexdigest()


@dataclass(frozen=True)
class DevUser:
    """What the provider needs of a Samplan user (a snapshot taken when the user signs in)."""

    id: str
    username: str
    hsa_id: str
    display_name: str

    def claim(self, name: str) -> str:
        """The value of the configured user claim: the HSA-id, or the username for any other claim name."""
        return self.hsa_id if name == "hsa_id" else self.username


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scope: str
    user: DevUser
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    auth_time: int
    expires_at: float
    key: str = ""  # the store's key: the code's digest

    # authlib's AuthorizationCodeMixin (OIDC flavour)
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["dev"]


@dataclass
class RefreshToken:
    client_id: str
    scope: str
    user: DevUser
    family: str
    expires_at: float
    revoked: bool = False
    key: str = ""  # the store's key: the token's digest

    # authlib's TokenMixin
    def check_client(self, client: Any) -> bool:
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> DevUser:
        return self.user


class IdpStore(Protocol):
    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def blocking(self) -> bool:
        """True when calls go over the network (run authlib in a worker thread)."""
        ...

    def add_code(self, code: str, record: AuthorizationCode) -> None: ...

    def code(self, code: str, client_id: str) -> AuthorizationCode | None: ...

    def delete_code(self, record: AuthorizationCode) -> None:
        """Use the code up; `InvalidGrantError` when another request used it first (codes are single-use)."""
        ...

    def nonce_seen(self, client_id: str, nonce: str) -> bool: ...

    def add_refresh_token(self, token: str, record: RefreshToken) -> None: ...

    def refresh_token(self, token: str) -> RefreshToken | None:
        """The live record of `token`; a rotated (used) token revokes its whole family and gives None."""
        ...

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        """The record of `token` if it is live, without any side effect (the revocation endpoint)."""
        ...

    def rotate(self, record: RefreshToken) -> None:
        """`record` was used: it is dead from now on, and presenting it again revokes its family."""
        ...

    def revoke_family(self, family: str) -> None: ...

    def revoke_user(self, client_id: str, user_id: str) -> None: ...


@dataclass
class MemoryStore:
    """Bounded, expiring storage in the process's memory."""

    clock: Callable[[], float] = time.time
    blocking: bool = False
    codes: OrderedDict[str, AuthorizationCode] = field(default_factory=OrderedDict)
    refresh_tokens: OrderedDict[str, RefreshToken] = field(default_factory=OrderedDict)
    used_refresh_tokens: OrderedDict[str, str] = field(default_factory=OrderedDict)  # digest -> family
    nonces: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def add_code(self, code: str, record: AuthorizationCode) -> None:
        self._expire(self.codes)
        record.key = digest(code)
        self.codes[record.key] = record
        _bound(self.codes, _MAX_CODES)
        if record.nonce:
            self.nonces[digest(f"{record.client_id}\0{record.nonce}")] = record.expires_at
            _bound(self.nonces, _MAX_CODES)

    def code(self, code: str, client_id: str) -> AuthorizationCode | None:
        record = self.codes.get(digest(code))
        if record is None or record.client_id != client_id or record.expires_at <= self.clock():
            return None
        return record

    def delete_code(self, record: AuthorizationCode) -> None:
        if self.codes.pop(record.key, None) is None:
            raise InvalidGrantError("the code was used already")

    def nonce_seen(self, client_id: str, nonce: str) -> bool:
        expires = self.nonces.get(digest(f"{client_id}\0{nonce}"))
        return expires is not None and expires > self.clock()

    def add_refresh_token(self, token: str, record: RefreshToken) -> None:
        self._expire(self.refresh_tokens)
        record.key = digest(token)
        self.refresh_tokens[record.key] = record
        _bound(self.refresh_tokens, _MAX_REFRESH_TOKENS)

    def refresh_token(self, token: str) -> RefreshToken | None:
        key = digest(token)
        record = self.refresh_tokens.get(key)
        if record is None:
            family = self.used_refresh_tokens.get(key)
            if family is not None:
                self.revoke_family(family)
            return None
        return record if self._live(record) else None

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        record = self.refresh_tokens.get(digest(token))
        return record if record is not None and self._live(record) else None

    def rotate(self, record: RefreshToken) -> None:
        self.refresh_tokens.pop(record.key, None)
        self.used_refresh_tokens[record.key] = record.family
        _bound(self.used_refresh_tokens, _MAX_USED_REFRESH_TOKENS)

    def revoke_family(self, family: str) -> None:
        for key, value in list(self.refresh_tokens.items()):
            if value.family == family:
                del self.refresh_tokens[key]

    def revoke_user(self, client_id: str, user_id: str) -> None:
        for key, value in list(self.refresh_tokens.items()):
            if value.client_id == client_id and value.user.id == user_id:
                del self.refresh_tokens[key]

    def _live(self, record: RefreshToken) -> bool:
        return not record.revoked and record.expires_at > self.clock()

    def _expire(self, table: OrderedDict[str, Any]) -> None:
        now = self.clock()
        for key in [k for k, v in table.items() if v.expires_at <= now]:
            del table[key]


def _bound(table: OrderedDict[str, Any], size: int) -> None:
    while len(table) > size:
        table.popitem(last=False)  # the oldest


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """The same in Redis, shared by every API instance signing with the key `key_id`.

    Keys under `REDIS_PREFIX<key_id>:`: `code:<digest>` (a code's record), `nonce:<digest>`, `rt:<digest>` (a live
    refresh token's record), `used:<digest>` (a rotated token: its family), `family:<family>` and
    `user:<client>:<user id>` (sets of live token digests, for revoking them together). Each expires with what it
    holds. A code is used up by deleting its key: of two requests racing with one code (on two instances), only
    the one whose delete removed it gets its tokens; a token rotated twice at once revokes its family."""

    blocking = True

    def __init__(self, url: str, key_id: str, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._redis = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self._prefix = f"{REDIS_PREFIX}{key_id}:"

    def close(self) -> None:
        self._redis.close()

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _ttl(self, expires_at: float) -> int:
        return max(1, math.ceil(expires_at - self.clock()))

    def add_code(self, code: str, record: AuthorizationCode) -> None:
        record.key = digest(code)
        pipe = self._redis.pipeline()
        pipe.set(self._key("code", record.key), msgspec.json.encode(record), ex=self._ttl(record.expires_at))
        if record.nonce:
            pipe.set(self._key("nonce", digest(f"{record.client_id}\0{record.nonce}")), b"1",
                     ex=self._ttl(record.expires_at))
        pipe.execute()

    def code(self, code: str, client_id: str) -> AuthorizationCode | None:
        raw = self._redis.get(self._key("code", digest(code)))
        if raw is None:
            return None
        record = msgspec.json.decode(raw, type=AuthorizationCode)
        if record.client_id != client_id or record.expires_at <= self.clock():
            return None
        return record

    def delete_code(self, record: AuthorizationCode) -> None:
        if not self._redis.delete(self._key("code", record.key)):
            raise InvalidGrantError("the code was used already")

    def nonce_seen(self, client_id: str, nonce: str) -> bool:
        return bool(self._redis.exists(self._key("nonce", digest(f"{client_id}\0{nonce}"))))

    def add_refresh_token(self, token: str, record: RefreshToken) -> None:
        record.key = digest(token)
        ttl = self._ttl(record.expires_at)
        family, user = self._key("family", record.family), self._key("user", f"{record.client_id}:{record.user.id}")
        pipe = self._redis.pipeline()
        pipe.set(self._key("rt", record.key), msgspec.json.encode(record), ex=ttl)
        for index in (family, user):
            pipe.sadd(index, record.key)
            pipe.expire(index, ttl, gt=True)
            pipe.expire(index, ttl, nx=True)
        pipe.execute()

    def refresh_token(self, token: str) -> RefreshToken | None:
        key = digest(token)
        record = self._record(key)
        if record is None:
            family = self._redis.get(self._key("used", key))
            if family is not None:
                self.revoke_family(_text(family))
        return record

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        return self._record(digest(token))

    def rotate(self, record: RefreshToken) -> None:
        removed = self._redis.delete(self._key("rt", record.key))
        self._redis.set(self._key("used", record.key), record.family.encode(), ex=self._ttl(record.expires_at))
        if not removed:  # another request rotated it at the same moment: a reuse
            self.revoke_family(record.family)
            raise InvalidGrantError("the refresh token was used already")

    def revoke_family(self, family: str) -> None:
        self._revoke_set(self._key("family", family))

    def revoke_user(self, client_id: str, user_id: str) -> None:
        self._revoke_set(self._key("user", f"{client_id}:{user_id}"))

    def _revoke_set(self, index: str) -> None:
        keys = [self._key("rt", _text(member)) for member in self._redis.smembers(index)]
        self._redis.delete(index, *keys)

    def _record(self, key: str) -> RefreshToken | None:
        raw = self._redis.get(self._key("rt", key))
        if raw is None:
            return None
        record = msgspec.json.decode(raw, type=RefreshToken)
        return None if record.revoked or record.expires_at <= self.clock() else record
