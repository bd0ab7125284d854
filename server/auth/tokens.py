"""Bearer tokens: verification of access tokens from the OIDC provider, and the development signing key.

Every API call carries a JWT issued by the identity provider. `TokenVerifier` checks it against the provider's
JWKS (signature, algorithm allow-list, issuer, audience, expiry). `DevSigningKey` is the key of the built-in
development identity provider; it is shared through a file between `samplan token` and the API process, and only
ever loaded in development mode (the caller decides).

Failure reasons (`InvalidToken.reason`) are short English strings meant for logs and problem details. They never
contain the token or any claim value from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyCurveError,
    JoseError,
    KeyParameterError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from server.secret_files import create_once

__all__ = [
    "DevSigningKey",
    "InvalidToken",
    "JwksUnavailable",
    "TokenVerifier",
    "VerifiedToken",
    "bearer_token",
]

_log = logging.getLogger(__name__)

#: Keys we verify with. Symmetric ("oct") keys are never accepted, see `_is_forbidden_algorithm`.
_AsymmetricKey = RSAKey | ECKey | OKPKey

#: On a token with an unknown `kid` the JWKS is fetched again, at most this often (key rotation).
_UNKNOWN_KID_REFETCH_SECONDS = 30.0
#: After a failed JWKS fetch, do not try again for this long (avoid piling up 5 s timeouts per request).
_FETCH_FAILURE_BACKOFF_SECONDS = 5.0
#: If refreshing an expired JWKS cache fails, the old keys stay usable for at most this long.
_STALE_KEYS_GRACE_SECONDS = 3600.0
_JWKS_FETCH_TIMEOUT_SECONDS = 5.0

_DEV_ALGORITHM = "RS256"
_DEV_KEY_SIZE = 2048
_RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "nbf", "exp", "jti"})


class InvalidToken(Exception):
    """The bearer token is missing or not acceptable.

    `reason` is a short English, machine-ish message such as 'token expired', 'wrong audience',
    'algorithm not allowed', 'bad signature', 'malformed token' or 'unknown key'. It never includes the token.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksUnavailable(InvalidToken):
    """The identity provider's key set could not be fetched, so no token can be verified right now.

    A subclass of `InvalidToken` so that callers who only know `InvalidToken` still answer 401; callers who care
    can catch it first and answer 503 instead.
    """

    def __init__(self) -> None:
        super().__init__("key set unavailable")


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and standard claims have been verified."""

    subject: str
    claims: dict[str, Any]

    def claim(self, name: str) -> str | None:
        """The claim `name` if it is present and a string, else None."""
        value = self.claims.get(name)
        return value if isinstance(value, str) else None


def bearer_token(authorization_header: str | None) -> str:
    """Extract the token from an `Authorization: Bearer <token>` header (the scheme is case-insensitive)."""
    if not authorization_header:
        raise InvalidToken("missing bearer token")
    parts = authorization_header.split()
    if len(parts) < 2 or parts[0].lower() != "bearer":
        raise InvalidToken("missing bearer token")
    if len(parts) > 2:
        raise InvalidToken("malformed token")
    return parts[1]


# --------------------------------------------------------------------------------------------------------------------
# Development signing key
# --------------------------------------------------------------------------------------------------------------------


class DevSigningKey:
    """The development identity provider's RSA signing key (RS256), stored as a private JWK JSON file so that
    `samplan token` (a separate process) and the API share it. Created on first use with a random kid.

    Development mode only: the API must never load it otherwise (the caller decides).
    """

    def __init__(self, key: RSAKey) -> None:
        if not key.is_private or not key.kid:
            raise ValueError("the development signing key must be a private RSA key with a kid")
        self._key = key

    @property
    def kid(self) -> str:
        kid = self._key.kid
        assert kid is not None  # checked in __init__
        return kid

    @classmethod
    def load_or_create(cls, path: Path) -> DevSigningKey:
        """Load the key from `path`, creating it (mode 0o600, parent directories included) if it does not exist.

        Creation is atomic: the key is written to a temporary file in the same directory and then linked into
        place, which fails if another process got there first; the file is then read back, so racing processes
        all end up with the winner's key. Where hard links are not supported, `os.replace` is used instead and the
        file is still read back (last writer wins).
        """
        if not path.exists():
            cls._create(path)
        return cls._load(path)

    @classmethod
    def _load(cls, path: Path) -> DevSigningKey:
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # a private key; tighten what someone loosened
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            key = RSAKey.import_key(data)
        except (OSError, ValueError, TypeError, KeyError, JoseError) as error:
            raise ValueError(f"cannot read the development signing key at {path}: {type(error).__name__}") from None
        return cls(key)

    @classmethod
    def _create(cls, path: Path) -> None:
        kid = f"dev-{secrets.token_hex(8)}"
        key = RSAKey.generate_key(_DEV_KEY_SIZE, parameters={"kid": kid, "alg": _DEV_ALGORITHM, "use": "sig"})
        content = json.dumps(key.as_dict(private=True), indent=2) + "\n"
        create_once(path, content)

    def jwks(self) -> dict[str, Any]:
        """The public key set, `{"keys": [...]}`, with kid, alg RS256 and use sig."""
        public = dict(self._key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": _DEV_ALGORITHM, "use": "sig"})
        return {"keys": [public]}

    def issue(
        self,
        *,
        subject: str,
        issuer: str,
        audience: str,
        claims: Mapping[str, Any] | None = None,
        lifetime: timedelta = timedelta(hours=8),
        now: datetime | None = None,
    ) -> str:
        """Sign an access token. Header: alg RS256, kid, typ JWT. Claims: iss, sub, aud, iat, nbf, exp, jti and
        the extra `claims` (which must not redefine the registered ones)."""
        if not subject:
            raise ValueError("subject must not be empty")
        if lifetime <= timedelta(0):
            raise ValueError("lifetime must be positive")
        extra = dict(claims or {})
        clash = _RESERVED_CLAIMS.intersection(extra)
        if clash:
            raise ValueError(f"extra claims must not redefine {sorted(clash)}")
        issued_at = _utc(now) if now is not None else datetime.now(UTC)
        iat = int(issued_at.timestamp())
        payload: dict[str, Any] = {
            **extra,
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": iat,
            "nbf": iat,
            "exp": int((issued_at + lifetime).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        header = {"alg": _DEV_ALGORITHM, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, payload, self._key, algorithms=[_DEV_ALGORITHM])


# --------------------------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _is_forbidden_algorithm(alg: str) -> bool:
    # "none" means unsigned. HS* (HMAC) means a shared secret: we only ever hold the provider's *public* keys, and
    # a verifier that accepts HS256 can be tricked into using public key material (which anyone can download from
    # the JWKS) as the HMAC secret -- the classic algorithm-confusion attack. Even a genuine shared secret would let
    # every holder of it mint tokens. So symmetric algorithms are refused even if someone lists them.
    return alg.lower() == "none" or alg.upper().startswith("HS")


@dataclass
class _KeyCache:
    by_kid: dict[str, _AsymmetricKey]
    single: _AsymmetricKey | None  # the only key, for tokens without kid
    fetched_at: float  # time.monotonic()


def _import_jwks(jwks: Mapping[str, Any], fetched_at: float) -> _KeyCache:
    """Import the asymmetric signature keys of a JWKS, skipping keys we cannot or must not use."""
    raw_keys = jwks.get("keys")
    if not isinstance(raw_keys, list):
        raise ValueError("a JWKS must be an object with a 'keys' list")
    keys: list[_AsymmetricKey] = []
    for raw in raw_keys:
        if not isinstance(raw, dict) or raw.get("kty") not in ("RSA", "EC", "OKP"):
            continue  # symmetric or unknown key types are ignored (RFC 7517 section 5)
        if raw.get("use", "sig") != "sig":
            continue
        try:
            key = JWKRegistry.import_key(raw)
        except (JoseError, ValueError, TypeError, KeyError):
            _log.warning("ignoring an unusable key in the JWKS (kid %r)", raw.get("kid"))
            continue
        if isinstance(key, RSAKey | ECKey | OKPKey):
            keys.append(key)
    if not keys:
        raise ValueError("the JWKS contains no usable signature keys")
    by_kid: dict[str, _AsymmetricKey] = {}
    for key in keys:
        if key.kid is not None:
            by_kid.setdefault(key.kid, key)
    return _KeyCache(by_kid=by_kid, single=keys[0] if len(keys) == 1 else None, fetched_at=fetched_at)


def _lookup(cache: _KeyCache, kid: str | None) -> _AsymmetricKey | None:
    return cache.single if kid is None else cache.by_kid.get(kid)


class TokenVerifier:
    """Verifies bearer tokens against a JWKS: signature, algorithm allow-list, issuer, audience, exp (required),
    nbf, iat not in the future beyond leeway. Leeway default 30 s.

    With `jwks_url` the key set is fetched with httpx (timeout 5 s) and cached for `jwks_cache_seconds`; a token
    with an unknown `kid` causes a refetch at most once per 30 s (key rotation). If a refresh fails, the previous
    keys stay usable for up to an hour; with no keys at all, `JwksUnavailable` is raised.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
        leeway: int = 30,
        jwks_cache_seconds: int = 300,
    ) -> None:
        if jwks is None and not jwks_url:
            raise ValueError("TokenVerifier needs jwks or jwks_url")
        if jwks is not None and jwks_url:
            raise ValueError("TokenVerifier takes jwks or jwks_url, not both")
        if not issuer or not audience:
            raise ValueError("issuer and audience must not be empty")
        if isinstance(algorithms, str):
            raise TypeError("algorithms must be a sequence of algorithm names, not a string")
        self._algorithms = frozenset(a for a in algorithms if not _is_forbidden_algorithm(a))
        if not self._algorithms:
            raise ValueError("no acceptable (asymmetric) algorithm in the allow-list")
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._jwks_url = jwks_url or None
        self._cache_seconds = float(jwks_cache_seconds)
        self._keys: _KeyCache | None = _import_jwks(jwks, time.monotonic()) if jwks is not None else None
        self._lock = asyncio.Lock()
        self._last_unknown_kid_refetch: float | None = None
        self._last_failure: float | None = None

    async def verify(self, token: str, *, now: datetime | None = None) -> VerifiedToken:
        """Verify `token` and return its claims, or raise `InvalidToken` with a short reason."""
        header = self._header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or _is_forbidden_algorithm(alg) or alg not in self._algorithms:
            raise InvalidToken("algorithm not allowed")
        if "crit" in header or "b64" in header:
            raise InvalidToken("unsupported token header")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed token")
        key = await self._key(kid)

        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except BadSignatureError:
            raise InvalidToken("bad signature") from None
        except UnsupportedAlgorithmError:
            raise InvalidToken("algorithm not allowed") from None
        except (KeyParameterError, InvalidKeyCurveError):
            raise InvalidToken("key not usable for algorithm") from None
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("malformed token") from None

        claims = decoded.claims
        for name in ("exp", "nbf", "iat"):
            if name in claims and not _is_numeric_date(claims[name]):
                raise InvalidToken(f"invalid claim: {name}")
        moment = _utc(now) if now is not None else datetime.now(UTC)
        registry = jwt.JWTClaimsRegistry(
            now=int(moment.timestamp()),
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ClaimError as error:
            raise InvalidToken(_claim_reason(error)) from None
        return VerifiedToken(subject=claims["sub"], claims=dict(claims))

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        if not isinstance(token, str) or token.count(".") != 2:
            raise InvalidToken("malformed token")
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("malformed token") from None
        if not isinstance(header, dict):
            raise InvalidToken("malformed token")
        return dict(header)

    async def _key(self, kid: str | None) -> _AsymmetricKey:
        cache = await self._current_keys()
        key = _lookup(cache, kid)
        if key is not None:
            return key
        if self._jwks_url is not None:
            key = await self._key_after_rotation(cache, kid)
            if key is not None:
                return key
        raise InvalidToken("unknown key")

    async def _current_keys(self) -> _KeyCache:
        cache = self._keys
        if cache is not None and (self._jwks_url is None or not self._is_stale(cache)):
            return cache
        async with self._lock:
            cache = self._keys
            if cache is not None and not self._is_stale(cache):
                return cache  # someone else refreshed while we waited
            if await self._refresh():
                assert self._keys is not None
                return self._keys
            grace = self._cache_seconds + _STALE_KEYS_GRACE_SECONDS
            if cache is not None and time.monotonic() - cache.fetched_at < grace:
                return cache  # the provider is unreachable; keep using the keys we had for a while
            raise JwksUnavailable()

    async def _key_after_rotation(self, seen: _KeyCache, kid: str | None) -> _AsymmetricKey | None:
        async with self._lock:
            if self._keys is not None and self._keys is not seen:
                key = _lookup(self._keys, kid)  # refreshed while we waited
                if key is not None:
                    return key
            now = time.monotonic()
            last = self._last_unknown_kid_refetch
            if last is not None and now - last < _UNKNOWN_KID_REFETCH_SECONDS:
                return None
            self._last_unknown_kid_refetch = now
            if not await self._refresh():
                return None
            assert self._keys is not None
            return _lookup(self._keys, kid)

    def _is_stale(self, cache: _KeyCache) -> bool:
        return time.monotonic() - cache.fetched_at >= self._cache_seconds

    async def _refresh(self) -> bool:
        """Fetch the JWKS (the caller holds the lock). True if the cache now holds fresh keys."""
        assert self._jwks_url is not None
        if self._last_failure is not None and time.monotonic() - self._last_failure < _FETCH_FAILURE_BACKOFF_SECONDS:
            return False
        try:
            async with httpx.AsyncClient(timeout=_JWKS_FETCH_TIMEOUT_SECONDS) as client:
                response = await client.get(self._jwks_url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the JWKS document is not a JSON object")
            self._keys = _import_jwks(document, time.monotonic())
        except (httpx.HTTPError, ValueError, TypeError) as error:
            self._last_failure = time.monotonic()
            _log.warning("fetching the JWKS from %s failed: %s", self._jwks_url, type(error).__name__)
            return False
        self._last_failure = None
        return True


def _is_numeric_date(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _claim_reason(error: ClaimError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "token expired"
    if isinstance(error, MissingClaimError):
        return f"missing claim: {error.claim}"
    reasons = {
        "iss": "wrong issuer",
        "aud": "wrong audience",
        "nbf": "token not yet valid",
        "iat": "token issued in the future",
    }
    return reasons.get(error.claim, f"invalid claim: {error.claim}")
